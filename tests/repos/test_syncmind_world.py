"""The `syncmind` world on a real workspace in bubblewrap (and one Docker episode): the oracle agent with the oracle
collaborator, budget and turn arithmetic, what git shows before and after a fetch, and bad input end to end."""

from __future__ import annotations

import os
import subprocess

import pytest

import simyard
from simyard.platform.api import Task
from simyard.repos import read_instances
from simyard.repos.syncmind import SyncMindEnv
from simyard.sandboxes.base import SandboxLost
from simyard.sandboxes.bwrap import bwrap_available

pytestmark = pytest.mark.skipif(bwrap_available() is not None, reason=f"bwrap cannot run: {bwrap_available()}")


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    """(repository, instances) of syncmind-mini's repository (seed 0), built once per session in a cache of its
    own (the suite tests share the path, so it is built once)."""
    from simyard.tasks.syncmind_mini import built_suite

    repo, suite_dir = built_suite(0, tmp_path_factory.getbasetemp() / "syncmind-cache")
    return repo, read_instances(suite_dir)


@pytest.fixture(scope="module")
def env():
    world = SyncMindEnv(sandbox="bwrap", command_timeout_s=5)
    yield world
    world.close()


def make_task(suite, setting: str = "callee", mode: str = "independent", max_steps: int = 30, **config) -> Task:
    repo, instances = suite
    instance = next(i for i in instances if i.setting == setting)
    return Task(id=f"{instance.instance_id}__{mode}", world="syncmind", max_steps=max_steps, max_invalid=None,
                config={"instance": instance.model_dump(), "source": str(repo), "mode": mode, **config})


def run(env, command: str):
    return env.step({"action": "run", "command": command})


# ------------------------------------------------------------------------------------------------ the oracle


@pytest.mark.parametrize("setting", ["caller", "callee"])
@pytest.mark.parametrize("mode", ["independent", "collaborative"])
def test_oracle_with_oracle_collaborator_solves_caller_and_callee_in_both_modes(env, suite, setting, mode):
    result = simyard.run_episode(env, "oracle", make_task(suite, setting, mode), seed=0)
    assert (result.status, result.reason, result.success) == ("completed", "goal", True)
    metrics = result.metrics
    asked = mode == "collaborative"
    assert metrics["setting"] == setting and metrics["mode"] == mode
    assert metrics["balance"] == (800 if asked else 900)
    assert (metrics["question_turns"], metrics["proposal_turns"], metrics["run_turns"]) == (int(asked), 1, 1)
    assert metrics["turns_to_success"] == result.steps == 2 + asked
    assert metrics["asr"] == pytest.approx(asked / result.steps)
    assert metrics["la_file"] == metrics["la_func"] == metrics["edit_file"] == metrics["edit_func"] == 1.0


def test_collaborator_answer_and_question_are_in_the_step_info(env, suite):
    env.reset(make_task(suite, mode="collaborative"), 0)
    step = env.step({"action": "ask", "question": "Which file should I look at?"})
    instance = env.instance
    assert step.info["valid"] and step.info["question"] == "Which file should I look at?"
    assert step.info["answer"] == f"The file is {instance.file}."
    assert "Collaborator: The file is" in step.observation.text and step.info["balance"] == 900


# --------------------------------------------------------------------------------------------- budget and turns


def test_budget_arithmetic_in_collaborative_mode_ends_below_the_cheapest_paid_action(env, suite):
    env.reset(make_task(suite, mode="collaborative", budget=260, proposal_cost=100, question_cost=50), 0)
    balances = []
    for action in ({"action": "ask", "question": "which function?"},           # 210
                   {"action": "propose", "file": env.instance.file},          # 110: still failing
                   {"action": "ask", "question": "which file?"},               # 60
                   {"action": "propose"}):                                     # 60 < 100: refused, no charge
        step = env.step(action)
        balances.append((step.info["valid"], step.info["balance"], step.terminated))
    assert balances == [(True, 210, False), (True, 110, False), (True, 60, False), (False, 60, False)]
    assert "costs $100" in step.observation.text
    step = env.step({"action": "ask", "question": "what is the code?"})  # 10 < 50: nothing left to pay for
    assert (step.info["balance"], step.terminated, step.info["success"]) == (10, True, False)
    assert "cannot pay for another proposal or question" in step.observation.text
    assert step.info["metrics"]["asr"] == pytest.approx(3 / 5)


def test_independent_mode_ends_when_a_proposal_can_no_longer_be_paid(env, suite):
    env.reset(make_task(suite, budget=150), 0)
    step = env.step({"action": "propose", "file": env.instance.file, "function": "nope"})
    assert (step.info["balance"], step.terminated, step.info["success"]) == (50, True, False)
    assert "still fails" in step.observation.text
    assert step.info["metrics"]["la_file"] == 1.0 and step.info["metrics"]["la_func"] == 0.0


def test_world_options_override_the_task_budget(suite):
    world = SyncMindEnv(budget=3000, proposal_cost=200, question_cost=25)
    try:
        world.reset(make_task(suite, mode="collaborative"), 0)
        step = world.step({"action": "ask", "question": "which file?"})
        assert step.info["balance"] == 2975 and "Costs $200" in world.action_spec().help
    finally:
        world.close()


def test_turn_limit_truncates_and_commands_cost_no_money(env, suite):
    env.reset(make_task(suite, max_steps=3), 0)
    steps = [run(env, "true") for _ in range(3)]
    assert [(s.truncated, s.terminated) for s in steps] == [(False, False), (False, False), (True, False)]
    assert steps[-1].info["balance"] == 1000 and "turn limit" in steps[-1].observation.text


def test_the_runner_reports_the_turn_limit_as_max_steps(env, suite):
    result = simyard.run_episode(env, "random", make_task(suite, max_steps=4), seed=3)
    assert result.status == "completed" and result.steps <= 4 and not result.success


# ------------------------------------------------------------------------------------------- what git shows


def test_future_commits_are_unreachable_before_a_fetch_and_reachable_after(env, suite):
    env.reset(make_task(suite), 0)
    instance = env.instance
    world = instance.world_sha
    assert world not in run(env, "git log --all --format=%H").observation.text
    assert "[exit code 0]" in run(env, f"git cat-file -e {world} 2>/dev/null; test $? -ne 0").observation.text
    fsck = run(env, "git fsck --lost-found 2>&1; ls .git/lost-found 2>&1").observation.text
    assert "dangling" not in fsck and "unreachable" not in fsck
    # every object in the store: none is the world's commit, none holds the gold code
    objects = run(env, "git cat-file --batch-all-objects --batch-check='%(objectname)'").observation.text
    assert world not in objects
    gold_line = next(line for line in instance.gold_code.splitlines() if line.strip().startswith("return"))
    scan = run(env, "git cat-file --batch-all-objects --batch | grep -cF " + _quote(gold_line.strip()) + " || true")
    assert scan.observation.text.splitlines()[1].strip() == "0"
    assert world not in run(env, "grep -r . .git 2>/dev/null | head -c 100000").observation.text
    assert "ahead of 'origin/main' by 1 commit" in run(env, "git status").observation.text

    fetched = run(env, "git fetch -q && git log --format=%H origin/main").observation.text
    assert fetched.splitlines()[1] == world
    assert "[exit code 0]" in run(env, f"git cat-file -e {world}").observation.text


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


# ----------------------------------------------------------------------------------------------- bad input


def test_a_proposal_naming_a_missing_file_is_refused_without_charge(env, suite):
    env.reset(make_task(suite), 0)
    for named in ("nowhere/missing.py", "../../etc/passwd", "/etc/passwd", 42):
        step = env.step({"action": "propose", "file": named, "function": "area"})
        assert not step.info["valid"] and step.info["balance"] == 1000
    assert "no file 'nowhere/missing.py'" in env.step({"action": "propose", "file": "nowhere/missing.py"}
                                                      ).observation.text


def test_unknown_and_malformed_actions_cost_a_turn_not_money(env, suite):
    env.reset(make_task(suite), 0)
    answers = [env.step(action) for action in (
        {"action": "dance"}, "not json", 7, {"action": "run"}, {"action": "run", "command": "  "},
        {"action": "ask", "question": "which file?"},  # independent mode: no questions
        '{"action": "run", "command": "echo from a string"}',
    )]
    assert [a.info["valid"] for a in answers] == [False] * 6 + [True]
    assert "Unknown action 'dance'" in answers[0].observation.text
    assert "independent mode" in answers[5].observation.text
    assert "from a string" in answers[6].observation.text
    assert answers[-1].info["balance"] == 1000 and env.turn == 7


def test_a_command_that_never_ends_is_killed_at_the_sandbox_deadline(env, suite):
    env.reset(make_task(suite), 0)
    step = run(env, "sleep 1000 & sleep 1000")
    assert step.info["valid"] and "killed after 5 s" in step.observation.text
    assert step.info["balance"] == 1000 and not step.terminated


def test_gigabytes_of_output_are_truncated_and_the_agent_is_told(env, suite):
    env.reset(make_task(suite), 0)
    step = run(env, "yes | head -c 300M; echo; echo tail-marker")  # 300 MB here; `yes` alone: gigabytes by the deadline
    text = step.observation.text
    assert len(text) < 12_000 and "tail-marker" in text
    assert "output cut" in text and "very long output" in text and "exit code 0" in text
    endless = run(env, "yes").observation.text
    assert len(endless) < 12_000 and "very long output" in endless and "killed after 5 s" in endless


def test_rm_rf_root_changes_nothing_outside_the_workspace(env, suite, tmp_path):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("still here")
    env.reset(make_task(suite), 0)
    upstream = env.workspace.upstream
    run(env, "rm -rf --no-preserve-root / 2>/dev/null; true")
    assert sentinel.read_text() == "still here" and (upstream / "HEAD").exists()
    subprocess.run(["git", f"--git-dir={upstream}", "fsck", "--no-progress"], check=True, capture_output=True)
    # the next episode gets a fresh workspace and the oracle still solves it
    assert simyard.run_episode(env, "oracle", make_task(suite), seed=1).success


def test_host_secrets_ssh_keys_and_environment_stay_invisible(env, suite, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE-KEY-SECRET")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SIMYARD_TEST_API_KEY", "sk-very-secret")
    env.reset(make_task(suite), 0)
    text = run(env, f"cat ~/.ssh/id_rsa /root/.ssh/* {home}/.ssh/id_rsa; env; cat /proc/1/environ; "
                    "ls -a / /root /home 2>&1").observation.text
    assert "PRIVATE-KEY-SECRET" not in text and "sk-very-secret" not in text
    found = run(env, "grep -rs sk-very /etc /tmp /workspace /proc/self/environ /proc/1/environ | head -1")
    assert os.environ["SIMYARD_TEST_API_KEY"] not in found.observation.text


# ------------------------------------------------------------------------------------------------ infrastructure


def test_a_dead_docker_daemon_is_an_infra_error_with_the_hint(suite, tmp_path):
    pytest.importorskip("docker")
    world = SyncMindEnv(sandbox="docker", docker_url=f"unix://{tmp_path}/no-daemon.sock")
    try:
        with pytest.raises(SandboxLost) as caught:
            world.reset(make_task(suite), 0)
        assert "sandbox=bwrap" in caught.value.hint or "dockerd" in caught.value.hint
        result = simyard.run_episode(world, "oracle", make_task(suite), seed=0)
        assert result.status == "infra_error" and "dockerd" in (result.error or "") + caught.value.hint
    finally:
        world.close()


@pytest.mark.docker
def test_one_docker_episode_with_the_oracle_and_a_lost_container(suite):
    from tests.needs import docker_skip_reason

    if docker_skip_reason():
        pytest.skip(docker_skip_reason())
    from simyard.sandboxes.images import ensure_base_image

    world = SyncMindEnv(sandbox="docker", image=ensure_base_image(), command_timeout_s=20)
    try:
        result = simyard.run_episode(world, "oracle", make_task(suite, "caller", "collaborative"), seed=0)
        assert (result.status, result.success, result.metrics["balance"]) == ("completed", True, 800)
        world.reset(make_task(suite), 0)
        fetched = run(world, "git fetch -q && git log --format=%H -1 origin/main").observation.text
        assert fetched.splitlines()[1] == world.instance.world_sha
        world.sandbox.inner.container.remove(force=True)  # the container is lost under the episode
        with pytest.raises(SandboxLost):
            run(world, "true")
    finally:
        world.close()


@pytest.mark.slow
def test_the_world_keeps_the_simyard_contract(tmp_path_factory):
    from simyard.tasks.syncmind_mini import syncmind_mini_suite
    from simyard.testing.conformance import all_passed, check_world, format_report

    tasks = syncmind_mini_suite(cache_dir=str(tmp_path_factory.getbasetemp() / "syncmind-cache"))
    results = check_world("syncmind", tasks=[tasks[0], tasks[-1]], seeds=(0,), sample=2)
    assert all_passed(results), format_report(results)
