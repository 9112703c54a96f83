"""Scratch cleanup: a long run's temp files stay bounded, and what dead workers leave is swept."""

from __future__ import annotations

import os

import pytest

from simyard.platform.bench import run_bench
from simyard.platform.cleanup import PREFIX
from tests.platform.cleanup_worlds import MODULE, litter_left, write_litter_suite


def test_many_episodes_leave_a_bounded_scratch_and_nothing_after_the_run(tmp_path, monkeypatch):
    base = tmp_path / "scratch"
    base.mkdir()
    monkeypatch.setenv("SIMYARD_SCRATCH", str(base))
    monkeypatch.setenv("SIMYARD_SCRATCH_BUDGET_MB", "1")  # 16 episodes' litter
    suite = write_litter_suite(tmp_path / "tasks.jsonl", 400)
    left = []
    summary = run_bench(str(suite), "oracle", concurrency=2, imports=[MODULE], out=tmp_path / "run", frames="none",
                        progress=lambda event: event.last is not None and left.append(litter_left(base)))
    assert summary.status == "finished" and len(left) == 400
    # Without recycling, the two lanes' worlds would hold all 400 directories until the end of the run.
    assert max(left) <= 48, f"scratch grew to {max(left)} episodes' litter"
    assert litter_left(base) == 0 and not list(base.glob(f"{PREFIX}*"))


def test_the_scratch_of_a_worker_that_died_is_swept_by_the_end_of_the_run(tmp_path, monkeypatch):
    base = tmp_path / "scratch"
    base.mkdir()
    monkeypatch.setenv("SIMYARD_SCRATCH", str(base))
    suite = write_litter_suite(tmp_path / "tasks.jsonl", 6, die_marker=str(tmp_path / "died-once"))
    summary = run_bench(str(suite), "oracle", workers=2, imports=[MODULE], out=tmp_path / "run", frames="none")
    assert (tmp_path / "died-once").exists(), "no worker died: the test proves nothing"
    assert summary.status == "finished" and all(result.success for result in summary.results)
    assert litter_left(base) == 0 and not list(base.glob(f"{PREFIX}*"))


@pytest.mark.slow
def test_syncmind_episodes_leave_no_workspaces_behind_as_the_run_goes(tmp_path, monkeypatch):
    # The real world: git workspaces in bwrap sandboxes; each episode's workspace (ws-*) goes soon after it ends.
    base = tmp_path / "scratch"
    base.mkdir()
    monkeypatch.setenv("SIMYARD_SCRATCH", str(base))
    left = []

    def checkouts(event: object) -> None:
        if getattr(event, "last", None) is not None:
            left.append(sum(name.startswith("ws-") for _, dirs, _ in os.walk(base) for name in dirs))

    summary = run_bench("syncmind-mini", "oracle", concurrency=2, limit=16, out=tmp_path / "run", frames="none",
                        progress=checkouts)
    assert summary.status == "finished" and sum(result.success for result in summary.results) == 16
    assert len(left) == 16 and 1 <= max(left) <= 4, f"workspaces not in the scratch, or piled up: {left}"
    assert not list(base.iterdir()), "the worker's scratch outlived the run"
