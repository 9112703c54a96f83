"""`--concurrency auto`: episodes in flight follow a real model server's capacity and the machine's headroom."""

from __future__ import annotations

import pytest

from simyard.platform.adaptive import (
    AdaptiveSettings,
    ConcurrencyController,
    ConcurrencyError,
    Headroom,
    ModelSignals,
    plan_counts,
    read_decisions,
)
from simyard.platform.bench import run_bench
from tests.platform.bench_worlds import MODULE, write_tiny_suite
from tests.platform.busy_server import BusyChatServer


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def test_auto_concurrency_backs_off_on_429s_and_never_passes_the_ceiling(tmp_path):
    suite = write_tiny_suite(tmp_path / "tasks.jsonl", 120, target=1)
    with BusyChatServer(capacity=3, base_s=0.02) as server:
        options = {"model": "busy", "base_url": server.base_url, "max_attempts": 20, "backoff_s": 0.02,
                   "format": "ragen"}
        summary = run_bench(str(suite), "openai", options, concurrency="auto", max_concurrency=6,
                            imports=[MODULE], out=tmp_path / "run")

    assert summary.status == "finished" and all(result.success for result in summary.results)
    assert server.peak <= 6, "the server saw more requests at once than the ceiling allows"
    decisions = [record for record in read_decisions(tmp_path / "run") if record["what"] == "concurrency"]
    assert decisions[0]["why"].startswith("start from")
    changes = decisions[1:]
    assert all(1 <= record["value"] <= 6 for record in changes)
    assert any(record["value"] > record["previous"] for record in changes), "it never grew"
    backoffs = [record for record in changes if "HTTP 429" in record["why"]]
    assert server.refused > 0 and backoffs, "the server refused requests but concurrency never backed off"
    assert all(record["value"] < record["previous"] for record in backoffs)


def test_fixed_concurrency_writes_no_decisions(tmp_path):
    suite = write_tiny_suite(tmp_path / "tasks.jsonl", 4, target=1)
    run_bench(str(suite), "tiny-counter", concurrency=2, imports=[MODULE], out=tmp_path / "run")
    assert read_decisions(tmp_path / "run") == []


def test_workers_auto_starts_from_cores_within_the_ceiling(tmp_path):
    workers, lanes, settings, records = plan_counts("auto", "auto", 1)
    assert (workers, lanes) == (1, 1) and settings is not None and settings.ceiling == 1
    assert "cores" in records[0]["why"]
    with pytest.raises(ConcurrencyError, match="exceeds --max-concurrency 4"):
        plan_counts(2, 4, 4)


def _controller(headroom: Headroom, signals: ModelSignals, start: int = 4) -> ConcurrencyController:
    settings = AdaptiveSettings(ceiling=8, start=start)
    return ConcurrencyController(settings, measure=lambda run_dir: headroom, signals=signals)


def test_controller_shrinks_when_memory_runs_short_simulated_headroom():
    # A machine cannot be made to run out of memory in a test; the headroom reading is simulated.
    short = Headroom(cpu_percent=10, own_cpu_percent=5, memory_free=0.02, disk_free=0.5)
    controller = _controller(short, ModelSignals())
    controller.note_busy(4)
    record = controller.decide(waiting=True)
    assert record is not None and record["value"] == 3 and "memory" in record["why"]


def test_controller_shrinks_when_replies_slow_down_and_grows_when_idle_headroom_simulated_headroom():
    signals = ModelSignals()
    controller = _controller(Headroom(cpu_percent=10, own_cpu_percent=5, memory_free=0.5, disk_free=0.5), signals)
    for _ in range(5):
        signals.note_call(0.1)
    controller.note_busy(4)
    assert controller.decide(waiting=True)["value"] == 8  # slow start: doubles while all lanes are busy
    for _ in range(5):
        signals.note_call(0.5)
    record = controller.decide(waiting=True)
    assert record["value"] == 6 and "5.0x the fastest" in record["why"]
    controller.note_busy(6)
    assert controller.decide(waiting=True)["value"] == 7  # after a back-off it grows one at a time
    controller.note_busy(7)
    assert controller.decide(waiting=True)["value"] == 8
    controller.note_busy(8)
    assert controller.decide(waiting=True) is None  # at the ceiling
