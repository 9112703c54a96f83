"""Workers started before the run is known: they overlap the run's set-up, run it once configured, and never
outlive a run that fails to start."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from simyard.platform.bench import run_bench
from simyard.platform.episode import Limits
from simyard.platform.errors import UnknownNameError
from simyard.platform.executor import WorkerSpec, make_executor, start_pool
from simyard.platform.pool import PoolExecutor
from tests.platform.bench_worlds import MODULE, tiny_tasks


def _alive_children() -> list:
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return multiprocessing.active_children()


def test_a_pool_started_before_the_run_is_known_runs_it_once_configured(tmp_path):
    started = start_pool(2)
    assert isinstance(started, PoolExecutor) and len(started.workers) == 2  # spawned before any spec exists
    spec = WorkerSpec(str(tmp_path), "oracle", {}, Limits(), (MODULE,))
    with make_executor(spec, 2, started) as executor:
        assert executor is started
        tasks = tiny_tasks(6)
        executor.submit([(task, 0) for task in tasks])
        rows = [row for batch in executor.results() for row in batch]
    assert sorted(row.task_id for row in rows) == sorted(task.id for task in tasks)
    assert all(row.status == "completed" for row in rows)
    assert len({row.task_id for row in rows}) == 6
    assert _alive_children() == []


def test_a_started_pool_that_is_never_configured_lets_its_workers_exit_cleanly():
    started = start_pool(2)
    assert started is not None
    processes = [worker.process for worker in started.workers]
    started.close()
    assert _alive_children() == []
    assert [process.exitcode for process in processes] == [0, 0]


def test_a_run_left_with_one_task_closes_the_started_pool_and_runs_in_process(tmp_path):
    started = start_pool(2)
    processes = [worker.process for worker in started.workers]
    executor = make_executor(WorkerSpec(str(tmp_path), "oracle", {}, Limits()), 1, started)
    assert not isinstance(executor, PoolExecutor)
    executor.close()
    assert not any(process.is_alive() for process in processes)


def test_a_bench_run_that_fails_to_set_up_leaves_no_worker_processes(tmp_path):
    with pytest.raises(UnknownNameError):
        run_bench("no-such-suite", "oracle", workers=2, out=tmp_path / "run")
    assert _alive_children() == []
    assert not (tmp_path / "run").exists()


_START_METHODS = """
import sys, threading
from simyard.platform.executor import start_pool
if sys.argv[1] == "thread":
    threading.Thread(target=threading.Event().wait, daemon=True).start()  # a progress bar's refresh thread, say
pool = start_pool(2)
print(sorted({type(worker.process._popen).__module__.rsplit(".", 1)[-1] for worker in pool.workers}))
pool.close()
"""


@pytest.mark.parametrize(("threads", "method"), [("none", "popen_fork"), ("thread", "popen_spawn_posix")])
def test_first_workers_are_forked_only_from_a_single_threaded_process(threads, method):
    # A fork is ready in milliseconds where a spawned interpreter spends ~0.27 s importing simyard; but forking a
    # process with other threads could copy a lock held mid-operation, so then the workers are spawned.
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _START_METHODS, threads], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == f"['{method}']", result.stderr
