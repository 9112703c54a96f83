"""Report columns that only matter sometimes: replies cut by max_tokens, and infrastructure failures."""

from __future__ import annotations

from simyard.cli import render
from simyard.platform.episode import EpisodeResult
from simyard.platform.metrics import summarize


def _row(task, **fields):
    return EpisodeResult(task_id=task, world="w", subset="base", seed=0, **fields)


def test_cut_replies_and_infra_failures_show_and_infra_is_not_a_failure():
    rows = [_row("a", success=True, model_calls=4, cut_replies=1, prompt_tokens=10, completion_tokens=64),
            _row("b", success=False, model_calls=4, cut_replies=3, prompt_tokens=10, completion_tokens=64),
            _row("c", status="infra_error", reason="infra_error", error="worker died")]
    cells = render.stats_cells(summarize(rows))
    header, overall = cells[0], dict(zip(cells[0], cells[1], strict=True))
    assert "cut replies" in header and "infra_failed" in header
    assert overall["cut replies"] == "50.0%" and overall["infra_failed"] == "1"
    assert overall["n"] == "2" and overall["success [95% CI]"].startswith("50.0%")


def test_model_free_runs_stay_narrow():
    cells = render.stats_cells(summarize([_row("a", success=True)]))
    assert "cut replies" not in cells[0] and "infra_failed" not in cells[0]
