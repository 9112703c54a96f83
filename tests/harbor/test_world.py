"""The `harbor` world on a real Docker engine: the oracle scores 1, doing nothing scores 0, the verifier's rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simyard.agents.baselines import OracleAgent
from simyard.harbor.format import load_task_folders
from simyard.harbor.world import DAEMON_HINT, HarborEnv, HarborVerifierError, _daemon_hint
from simyard.platform.episode import Limits, run_episode_with
from simyard.sandboxes.base import SandboxLost
from tests.harbor.conftest import RUN_ID, Script, do_nothing, write_task

pytestmark = pytest.mark.docker

REPO = Path(__file__).parents[2]
SECRET_TESTS = "TESTS-MARKER-6f1c"
SECRET_SOLUTION = "SOLUTION-MARKER-93ab"


def one_task(tmp_path, **files):
    (task,) = load_task_folders(write_task(tmp_path, "task", **files))
    return task


def test_oracle_scores_one_on_a_task_with_a_solution(world, tmp_path):
    result = run_episode_with(world, OracleAgent(), one_task(tmp_path))
    assert (result.status, result.reason, result.success, result.reward) == ("completed", "goal", True, 1.0)
    assert result.metrics["reward"] == 1.0


def test_do_nothing_agent_scores_zero(world, tmp_path):
    result = run_episode_with(world, do_nothing(), one_task(tmp_path))
    assert (result.status, result.success, result.reward, result.steps) == ("completed", False, 0.0, 1)


def test_oracle_says_done_on_a_task_without_a_solution(world, tmp_path):
    result = run_episode_with(world, OracleAgent(), one_task(tmp_path, solve_sh=None))
    assert (result.status, result.success, result.steps) == ("completed", False, 1)


def test_verifier_that_times_out_is_a_world_error_not_a_score(world, tmp_path):
    task = one_task(tmp_path, test_sh="#!/bin/bash\nsleep 30\necho 1 > /logs/verifier/reward.txt\n",
                    toml="[verifier]\ntimeout_sec = 1.5\n")
    result = run_episode_with(world, OracleAgent(), task)
    assert (result.status, result.reason, result.success) == ("world_error", "world_error", False)
    assert "HarborVerifierError" in result.error and "did not finish within 1.5 s" in result.error


def test_verifier_that_writes_no_reward_is_a_world_error(world, tmp_path):
    task = one_task(tmp_path, test_sh="#!/bin/bash\necho checking\n")
    world.reset(task)
    with pytest.raises(HarborVerifierError, match="wrote no reward.txt or reward.json; its output ends: checking"):
        world.step("done")


def test_reward_json_with_several_rewards_is_read_whole(world, tmp_path):
    test_sh = ("#!/bin/bash\necho 0 > /logs/verifier/reward.txt\n"
               "echo '{\"reward\": 0.5, \"style\": 1, \"speed\": 0.25}' > /logs/verifier/reward.json\n")
    world.reset(one_task(tmp_path, test_sh=test_sh))
    step = world.step("done")
    assert step.reward == 0.5 and step.terminated and not step.info["success"]
    assert step.info["rewards"] == {"reward": 0.5, "style": 1.0, "speed": 0.25}
    assert step.info["reward_file"] == "reward.json"
    assert step.info["metrics"]["reward_style"] == 1.0 and step.info["metrics"]["reward"] == 0.5


def test_reward_json_without_a_reward_key_scores_the_mean(world, tmp_path):
    test_sh = "#!/bin/bash\necho '{\"a\": 1, \"b\": 1}' > /logs/verifier/reward.json\n"
    world.reset(one_task(tmp_path, test_sh=test_sh))
    step = world.step("done")
    assert step.reward == 1.0 and step.info["success"]


def test_tests_and_solution_are_not_visible_before_the_agent_finishes(world, tmp_path):
    test_sh = (f"#!/bin/bash\n# {SECRET_TESTS}\nls /tests > /logs/verifier/listing.txt\n"
               "echo 1 > /logs/verifier/reward.txt\n")
    task = one_task(tmp_path, test_sh=test_sh, solve_sh=f"#!/bin/bash\n# {SECRET_SOLUTION}\n",
                    tests={"data.txt": SECRET_TESTS})
    agent = Script("ls -la / /tests /solution /logs /logs/verifier",
                   f"grep -rl {SECRET_TESTS} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; echo searched",
                   f"grep -rl {SECRET_SOLUTION} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; echo searched")
    result = run_episode_with(world, agent, task)
    assert result.success, result.error
    seen = "\n".join(agent.seen)
    assert "searched" in seen and "No such file or directory" in seen
    assert SECRET_TESTS not in seen.replace(f"grep -rl {SECRET_TESTS}", "")
    assert SECRET_SOLUTION not in seen.replace(f"grep -rl {SECRET_SOLUTION}", "")
    assert world.logs is not None and (world.logs / "verifier" / "listing.txt").read_text().split() == [
        "data.txt", "test.sh"]


def test_a_reward_the_agent_plants_does_not_count(world, tmp_path):
    agent = Script("mkdir -p /logs/verifier /tests && echo 1 > /logs/verifier/reward.txt",
                   "printf '#!/bin/bash\\necho 1 > /logs/verifier/reward.txt\\n' > /tests/test.sh")
    result = run_episode_with(world, agent, one_task(tmp_path))
    assert (result.status, result.success, result.reward) == ("completed", False, 0.0)


def test_agent_timeout_ends_the_turn_and_the_verifier_still_runs(world, tmp_path):
    task = one_task(tmp_path, toml="[agent]\ntimeout_sec = 2\n")
    result = run_episode_with(world, Script("echo hello > /app/hello.txt && sleep 30"), task)
    assert (result.status, result.reason, result.success) == ("completed", "truncated", True)
    assert result.metrics["agent_timed_out"] is True


def test_turn_cap_runs_the_verifier(base_image, tmp_path):
    world = HarborEnv(max_turns=2, run_id=RUN_ID)
    try:
        result = run_episode_with(world, Script("true", "echo hello > /app/hello.txt", "echo never"),
                                  one_task(tmp_path))
    finally:
        world.close()
    assert (result.reason, result.steps, result.success) == ("truncated", 2, True)


def test_commands_start_in_the_image_workdir_which_stays_visible(world, tmp_path):
    # an image that keeps its files at /workspace: the episode's own directory must not hide them
    dockerfile = "FROM simyard/base:bookworm\nCOPY data.txt /workspace/data.txt\nWORKDIR /workspace\n"
    task = one_task(tmp_path, dockerfile=dockerfile, environment={"data.txt": "kept\n"})
    world.reset(task)
    step = world.step("pwd && cat data.txt && cd / && pwd")
    assert step.observation.text.splitlines()[1:4] == ["/workspace", "kept", "/"]
    assert world.step("pwd").observation.text.splitlines()[1] == "/workspace"  # a new shell each time


def test_a_command_that_does_not_exist_is_invalid_but_costs_a_turn(world, tmp_path):
    world.reset(one_task(tmp_path))
    step = world.step("definitely-not-a-command --now")
    assert step.info["valid"] is False and "exit code 127" in step.info["feedback"]
    assert world.turns == 1
    assert world.step(42).info["valid"] is False and world.step("   ").info["valid"] is False


def test_network_stays_off_even_when_the_task_allows_it(world, tmp_path):
    world.reset(one_task(tmp_path, toml="[environment]\nallow_internet = true\n"))
    probe = ("python3 -c \"import socket; s = socket.socket(); s.settimeout(3); "
             "print('connected' if s.connect_ex(('1.1.1.1', 53)) == 0 else 'no network')\"")
    step = world.step(probe)
    assert "no network" in step.observation.text and step.observation.data["network"] == "off"
    assert world.step("done").info["allow_internet"] is True


def test_a_lost_daemon_carries_the_harbor_hint():
    with pytest.raises(SandboxLost) as caught, _daemon_hint():
        raise SandboxLost("cannot reach the Docker daemon", hint="or use --world-opt sandbox=bwrap")
    assert caught.value.hint == DAEMON_HINT and "sandbox=bwrap" not in str(caught.value)


def test_a_dead_daemon_stops_bench_run_in_one_line(tmp_path):
    write_task(tmp_path / "tasks", "task")
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    done = subprocess.run([sys.executable, "-m", "simyard", "bench", "run", str(tmp_path / "tasks"), "--agent",
                           "oracle", "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env,
                          timeout=120)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]  # past the progress bar
    assert done.returncode == 2 and len(errors) == 1, done.stderr
    assert "Docker daemon" in errors[0] and "Harbor tasks run in Docker" in errors[0]
    assert not (tmp_path / "run").exists()


def test_episode_limits_of_the_runner_leave_room_for_the_verifier(world, tmp_path):
    result = run_episode_with(world, OracleAgent(), one_task(tmp_path), limits=Limits(time_limit_s=60))
    assert result.success
