"""World metrics in results and reports (generic, used by syncmind): numbers averaged per group over the episodes that
reported them, strings splitting the report, CSV columns, and metrics a world gets wrong."""

from __future__ import annotations

import math

import pytest

from simyard.cli import render
from simyard.platform.api import Observation, StepResult, Task
from simyard.platform.episode import EpisodeResult, run_episode_with
from simyard.platform.metrics import summarize
from simyard.testing.scripted import ScriptedAgent, ScriptedWorld


def result(task_id: str, success: bool, **metrics) -> EpisodeResult:
    return EpisodeResult(task_id=task_id, world="syncmind", subset="x", seed=0, success=success, steps=2,
                         metrics=metrics)


RESULTS = [
    result("a", True, setting="caller", mode="independent", la_file=1.0, asr=0.0, turns_to_success=2),
    result("b", False, setting="caller", mode="collaborative", la_file=0.0, asr=0.5),
    result("c", True, setting="callee", mode="collaborative", la_file=True, asr=0.25, turns_to_success=4),
    EpisodeResult(task_id="d", world="syncmind", subset="x", seed=0, status="world_error"),  # nothing reported
]


def test_numbers_are_averaged_over_the_episodes_that_reported_them():
    overall = summarize(RESULTS)[0]
    assert overall.n == 4 and overall.metrics == {"la_file": pytest.approx(2 / 3), "asr": 0.25,
                                                  "turns_to_success": 3.0}


def test_string_metrics_split_the_report_by_value():
    rows = {(row.group, row.name): row for row in summarize(RESULTS)}
    assert rows[("setting", "caller")].n == 2 and rows[("setting", "callee")].n == 1
    assert rows[("mode", "collaborative")].metrics["asr"] == pytest.approx(0.375)
    assert rows[("mode", "independent")].success_rate == 1.0
    assert ("subset", "syncmind/x") not in rows  # one subset: no breakdown, as before


def test_a_label_with_one_value_adds_no_rows():
    rows = summarize([result("a", True, setting="caller"), result("b", False, setting="caller")])
    assert [(row.group, row.name) for row in rows] == [("all", "all")]


def test_table_and_csv_show_one_column_per_metric():
    rows = summarize(RESULTS)
    cells = render.stats_cells(rows)
    header = cells[0]
    assert header[-3:] == ["la_file", "asr", "turns_to_success"]
    by_label = {line[0]: line for line in cells[1:]}
    assert by_label["setting: callee"][-1] == "4.00" and by_label["setting: caller"][-1] == "2.00"
    records, columns = render.stats_records(rows)
    assert "metrics" not in columns and columns[-3:] == ["metric_la_file", "metric_asr", "metric_turns_to_success"]
    text = render.csv_text(records, columns)
    assert text.splitlines()[0].endswith("metric_la_file,metric_asr,metric_turns_to_success")


def test_runs_without_metrics_keep_their_columns():
    plain = [EpisodeResult(task_id="a", world="w", subset="s", seed=0, success=True, steps=1)]
    rows = summarize(plain)
    assert rows[0].metrics == {} and render.stats_cells(rows)[0][-1] == "errors"


def reporting(*metrics) -> ScriptedWorld:
    """A world whose n-th step reports the n-th of `metrics` (None: reports nothing)."""
    def step(world: ScriptedWorld, action) -> StepResult:
        reported = metrics[len(world.actions) - 1]
        info = {"valid": True, "success": False} | ({} if reported is None else {"metrics": reported})
        return StepResult(Observation("ok"), 0.0, False, False, info)

    return ScriptedWorld(step=step)


def test_the_last_reported_metrics_reach_the_result():
    task = Task(id="t", world="scripted", max_steps=3)
    world = reporting({"mode": "independent", "balance": 900}, {"mode": "independent", "balance": 800}, None)
    done = run_episode_with(world, ScriptedAgent(["noop"] * 3), task)
    assert done.metrics == {"mode": "independent", "balance": 800}
    assert EpisodeResult.from_dict(done.to_dict()).metrics == done.metrics


@pytest.mark.parametrize("metrics, problem", [
    (["not", "a", "mapping"], "not a mapping"),
    ({"balance": math.nan}, "finite numbers"),
    ({"nested": {"a": 1}}, "finite numbers"),
])
def test_bad_metrics_are_a_world_error(metrics, problem):
    task = Task(id="t", world="scripted", max_steps=3)
    done = run_episode_with(reporting(metrics), ScriptedAgent(["noop"]), task)
    assert done.status == "world_error" and problem in (done.error or "")
