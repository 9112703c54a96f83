"""`simyard episode run --from EPISODE --step K`: the replay retraces the record, is checked, and hands over.

Episodes are recorded and forked through the real CLI (in-process where only the outcome matters, in a subprocess
where the one-line error of a user mistake is the point), in real worlds: Sokoban, EB-ALFRED's household world with
its frames, and a plugin world that is not deterministic on purpose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from simyard.cli import app

REPO = Path(__file__).resolve().parents[2]
PLUGIN = str(Path(__file__).with_name("plugin_worlds.py"))


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code in (0, 1), (result.output, result.exception)
    return result.output


def record(tmp_path: Path, name: str, *args: str) -> Path:
    """Run one episode into tmp_path/name; its episode directory."""
    out = tmp_path / name
    cli("episode", "run", *args, "--out", str(out))
    (episode,) = (out / "episodes").iterdir()
    return episode


def lines(episode: Path) -> list[dict]:
    return [json.loads(line) for line in (episode / "trajectory.jsonl").read_text().splitlines() if line.strip()]


def steps(episode: Path) -> list[dict]:
    return [line for line in lines(episode) if line["type"] == "step"]


def test_a_forked_puzzle_retraces_the_record_then_the_new_agent_plays(tmp_path):
    parent = record(tmp_path, "parent", "sokoban", "--seed", "3", "--agent", "random", "--max-steps", "12")
    output = cli("episode", "run", "--from", str(parent), "--step", "4", "--agent", "oracle",
                 "--out", str(tmp_path / "fork"))
    assert "fork: replayed steps 1..4" in output and "the world matched the record" in output
    child = next((tmp_path / "fork" / "episodes").iterdir())
    header = lines(child)[0]
    assert header["parent"]["episode"] == str(parent.resolve()) and header["parent"]["step"] == 4
    assert header["observation"]["text"] == lines(parent)[0]["observation"]["text"]
    recorded, forked = steps(parent), steps(child)
    for old, new in zip(recorded[:4], forked[:4], strict=True):
        assert (new["action"], new["observation"]["text"], new["reward"]) == \
               (old["action"], old["observation"]["text"], old["reward"])
        assert new["by"] == "replay"
    assert len(forked) > 4, "the oracle played after the replayed steps"
    assert all("by" not in step for step in forked[4:])
    replayed = cli("episode", "replay", str(child))
    assert f"forked from {parent.resolve()} at step 4" in replayed
    assert [line.endswith("by replay") for line in replayed.splitlines() if line.startswith("step ")] == \
           [True] * 4 + [False] * (len(forked) - 4)


def test_a_step_past_the_end_is_one_line_naming_the_episode_length(tmp_path):
    parent = record(tmp_path, "parent", "sokoban", "--seed", "3", "--agent", "random", "--max-steps", "6")
    done = subprocess.run([sys.executable, "-m", "simyard", "episode", "run", "--from", str(parent), "--step", "9",
                           "--agent", "random"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "COLUMNS": "250", "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: --step 9 is outside the episode") and "it has 6 steps" in line
    assert "use --step 0..6" in line
    assert not (tmp_path / "runs").exists(), "nothing is recorded for a refused fork"


def test_a_world_that_does_not_retrace_its_record_is_named_at_the_first_differing_step(tmp_path):
    parent = record(tmp_path, "parent", "coin-drift", "--import", PLUGIN, "--agent", "random")
    assert len(steps(parent)) == 6
    early = cli("episode", "run", "--from", str(parent), "--step", "2", "--agent", "random", "--import", PLUGIN,
                "--out", str(tmp_path / "early"))
    assert "the world matched the record" in early  # steps 1 and 2 are deterministic
    late = cli("episode", "run", "--from", str(parent), "--step", "5", "--agent", "random", "--import", PLUGIN,
               "--out", str(tmp_path / "late"))
    assert "replay differs from the record at step 3: observation text" in late
    assert "matched the record" not in late
    child = next((tmp_path / "late" / "episodes").iterdir())
    end = lines(child)[-1]["result"]
    assert end["status"] == "world_error" and "step 3" in end["error"]
    assert len(steps(child)) == 2, "the fork stops where the world left the record"


def test_an_edited_reward_in_the_record_is_reported_at_its_step(tmp_path):
    parent = record(tmp_path, "parent", "sokoban", "--seed", "3", "--agent", "random", "--max-steps", "6")
    edited = lines(parent)
    edited[3]["reward"] = 5.0  # step 3
    (parent / "trajectory.jsonl").write_text("".join(json.dumps(line) + "\n" for line in edited))
    output = cli("episode", "run", "--from", str(parent), "--step", "5", "--agent", "random",
                 "--out", str(tmp_path / "fork"))
    assert "replay differs from the record at step 3: reward was 5.0, replayed -0.1" in output


def test_a_forked_household_episode_matches_the_saved_frames_pixel_for_pixel(tmp_path):
    parent = record(tmp_path, "parent", "household", "--suite", "eb-alfred", "--index", "0", "--agent", "random",
                    "--max-steps", "3", "--world-opt", "resolution=64")
    output = cli("episode", "run", "--from", str(parent), "--step", "3", "--agent", "random", "--max-steps", "4",
                 "--out", str(tmp_path / "fork"))
    assert "the world matched the record (observations, rewards, done flags, 4 frames)" in output
    child = next((tmp_path / "fork" / "episodes").iterdir())
    for index in range(4):
        name = f"frames/step_{index:04d}_rgb.png"
        assert np.array_equal(np.asarray(Image.open(parent / name)), np.asarray(Image.open(child / name)))

    # A saved frame that is not what the world draws is a difference, named by step and file.
    frame = parent / "frames" / "step_0002_rgb.png"
    pixels = np.asarray(Image.open(frame)).copy()
    pixels[0, 0] = 255 - pixels[0, 0]
    Image.fromarray(pixels).save(frame)
    output = cli("episode", "run", "--from", str(parent), "--step", "3", "--agent", "random",
                 "--out", str(tmp_path / "fork2"))
    assert "replay differs from the record at step 2: frame frames/step_0002_rgb.png" in output


@pytest.mark.parametrize("flag", [["--seed", "4"], ["--suite", "ragen"]])
def test_choosing_another_task_or_seed_while_forking_is_refused(tmp_path, flag):
    parent = record(tmp_path, "parent", "sokoban", "--seed", "3", "--agent", "random", "--max-steps", "3")
    result = CliRunner().invoke(app, ["episode", "run", "--from", str(parent), "--step", "1", *flag])
    assert result.exit_code != 0 and "cannot be used with --from" in str(result.exception)


def test_a_fork_beyond_the_tasks_step_cap_asks_for_a_higher_cap_and_then_plays_on(tmp_path):
    parent = record(tmp_path, "parent", "sokoban", "--seed", "3", "--agent", "random", "--max-steps", "12")
    result = CliRunner().invoke(app, ["episode", "run", "--from", str(parent), "--step", "11"])
    assert result.exit_code != 0 and "the step cap is 10" in str(result.exception)
    assert "--max-steps" in result.exception.hint
    cli("episode", "run", "--from", str(parent), "--step", "11", "--agent", "random", "--max-steps", "13",
        "--out", str(tmp_path / "fork"))
    forked = steps(next((tmp_path / "fork" / "episodes").iterdir()))
    assert [step.get("by") for step in forked] == ["replay"] * 11 + [None, None]


def test_a_fork_without_out_is_recorded_under_its_parent_runs_forks_folder(tmp_path):
    parent = record(tmp_path, "parent", "sokoban", "--seed", "3", "--agent", "random", "--max-steps", "8")
    before = sorted(path.relative_to(tmp_path / "parent") for path in (tmp_path / "parent").rglob("*"))
    output = cli("episode", "run", "--from", str(parent), "--step", "2", "--agent", "oracle")
    (fork,) = (tmp_path / "parent" / "forks").iterdir()
    assert fork.name.startswith(f"{parent.name}-step2-oracle-")
    assert f"recorded in {fork / 'episodes' / parent.name}" in output.replace("\n", "")
    after = sorted(path.relative_to(tmp_path / "parent") for path in (tmp_path / "parent").rglob("*")
                   if "forks" not in path.relative_to(tmp_path / "parent").parts)
    assert after == before
