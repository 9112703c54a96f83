"""`simyard bench run --frames POLICY --video --reply-cap`: which frames land on disk, and one video per episode."""

from __future__ import annotations

import json

from tests.cli.test_bench_exit import simyard
from tests.platform.bench_worlds import MODULE, write_tiny_suite


def _steps(run, task="t003"):
    episode = next((run / "episodes").glob(f"{task}__s*"))
    lines = [json.loads(line) for line in (episode / "trajectory.jsonl").read_text().splitlines()]
    return episode, lines


def test_frames_every_n_keeps_those_steps_and_video_writes_one_file_per_view(tmp_path):
    suite = str(write_tiny_suite(tmp_path / "pics.jsonl", 4, images=True))  # t003 takes 4 steps
    done = simyard("bench", "run", suite, "--agent", "tiny-counter", "--import", MODULE, "--out", str(tmp_path / "r"),
                   "--frames", "every:2", "--video")
    assert done.returncode == 0, done.stderr
    episode, lines = _steps(tmp_path / "r")
    kept = sorted(path.name for path in (episode / "frames").glob("step_*.png"))
    assert kept == ["step_0000_rgb.png", "step_0002_rgb.png", "step_0004_rgb.png"]
    assert [bool(line.get("observation", {}).get("frames")) for line in lines if line["type"] != "end"] == [
        True, False, True, False, True]
    assert lines[-1]["videos"] == {"rgb": next(iter(lines[-1]["videos"].values()))}
    assert (episode / lines[-1]["videos"]["rgb"]).stat().st_size > 0


def test_frames_none_and_a_bad_policy(tmp_path):
    suite = str(write_tiny_suite(tmp_path / "pics.jsonl", 4, images=True))
    done = simyard("bench", "run", suite, "--agent", "tiny-counter", "--import", MODULE, "--out", str(tmp_path / "r"),
                   "--frames", "none")
    assert done.returncode == 0, done.stderr
    episode, _ = _steps(tmp_path / "r")
    assert not (episode / "frames").exists()
    bad = simyard("bench", "run", suite, "--agent", "tiny-counter", "--import", MODULE, "--out", str(tmp_path / "x"),
                  "--frames", "sometimes")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "sometimes" in bad.stderr
    assert not (tmp_path / "x").exists()
