"""The Ray executor on a real two-node Ray cluster, started by the test in a network namespace with only loopback.

Ray binds to the machine's network address even when told 127.0.0.1; inside `unshare -n` (as root) the only
interface is loopback, so the cluster and every driver (run with `nsenter` into the same namespace) talk over
127.0.0.1 and no test traffic leaves it. HOME is a folder of the test's own, so a token another Ray left in
~/.ray cannot reach this cluster.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace (unshare -n)"),
    pytest.mark.skipif(not all(shutil.which(tool) for tool in ("unshare", "nsenter", "ip")),
                       reason="needs unshare, nsenter and ip (util-linux, iproute2)"),
]

PORT = 6379  # free by construction: the namespace is the cluster's alone
SIMYARD = [sys.executable, "-m", "simyard"]

SLOW_ORACLE = '''
"""The oracle agent, slowed down so a run lasts long enough to lose a node (or its driver) in the middle."""
import time

import simyard
from simyard.agents.baselines import OracleAgent
from simyard.sims.puzzles.sokoban import SokobanEnv


class SlowOracle(OracleAgent):
    def __init__(self, delay_s: float = 0.05, **options):
        super().__init__(**options)
        self.delay_s = delay_s

    def act(self, obs):
        time.sleep(self.delay_s)
        return super().act(obs)


simyard.register_agent("slow-oracle", SlowOracle)


class HungrySokoban(SokobanEnv):
    """Sokoban that says one episode needs 64 CPUs: more than any node of the test's cluster has."""

    name = "hungry-sokoban"
    needs = simyard.Needs(cpus=64)


simyard.register_world("hungry-sokoban", HungrySokoban)
'''


class LoopbackCluster:
    """A head node (1 CPU) and a worker node (2 CPUs) in a network namespace that has only loopback."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.temp = Path(tempfile.mkdtemp(prefix="/tmp/syr"))  # Ray's socket paths must stay short
        self.tmpdir = Path(tempfile.mkdtemp(prefix="/tmp/syt"))  # the cluster's and drivers' TMPDIR: scratch lands here
        self.env = {**os.environ, "HOME": str(base / "home"), "RAY_USAGE_STATS_ENABLED": "0",
                    "TMPDIR": str(self.tmpdir)}
        (base / "home").mkdir()
        self.holder = subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep 3600"])
        ours = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while _netns(self.holder.pid) in (None, ours) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.netns = _netns(self.holder.pid)
        self.head_raylet: int | None = None

    def command(self, *args: str) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-n", *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), env=self.env, capture_output=True, text=True, timeout=timeout,
                              cwd=self.base)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=self.base)

    def start(self) -> None:
        common = ["--node-ip-address=127.0.0.1", "--object-store-memory=80000000", "--disable-usage-stats"]
        done = self.run("ray", "start", "--head", f"--port={PORT}", "--num-cpus=1", "--include-dashboard=false",
                        f"--temp-dir={self.temp}", *common)
        assert done.returncode == 0, done.stdout + done.stderr
        self.head_raylet = self.raylets()[0]
        self.start_worker_node()

    def start_worker_node(self) -> None:
        done = self.run("ray", "start", f"--address=127.0.0.1:{PORT}", "--num-cpus=2",
                        "--node-ip-address=127.0.0.1", "--object-store-memory=80000000", "--disable-usage-stats")
        assert done.returncode == 0, done.stdout + done.stderr

    def pids(self) -> list[int]:
        """Every process in the namespace: all of them started by this test."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.holder.pid and _netns(int(entry.name)) == self.netns:
                found.append(int(entry.name))
        return found

    def raylets(self) -> list[int]:
        return sorted(pid for pid in self.pids() if _name(pid) == "raylet")

    def kill_worker_node(self) -> None:
        """SIGKILL the worker node's raylet and everything under it (its actors' processes among them)."""
        raylet = psutil.Process(next(pid for pid in self.raylets() if pid != self.head_raylet))
        for process in [*raylet.children(recursive=True), raylet]:
            process.kill()

    def close(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.holder.kill()
        self.holder.wait()
        shutil.rmtree(self.temp, ignore_errors=True)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _netns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("ray")
    (base / "slow_oracle.py").write_text(textwrap.dedent(SLOW_ORACLE))
    cluster = LoopbackCluster(base)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


def _bench(cluster: LoopbackCluster, out: Path, *extra: str) -> list[str]:
    return [*SIMYARD, "bench", "run", "ragen", "--executor", "ray", "--address", f"127.0.0.1:{PORT}",
            "--out", str(out), *extra]


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines() if line.strip()]


def _completed_once(run: Path, total: int) -> list[dict]:
    """Every task of the run has exactly one `completed` row in the index; returns those rows."""
    completed = [row for row in _rows(run) if row["status"] == "completed"]
    counts = collections.Counter(row["task_id"] for row in completed)
    assert len(counts) == total and set(counts.values()) == {1}, counts
    return completed


def _wait_for_rows(run: Path, count: int, process: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        index = run / "results.jsonl"
        if index.exists() and len(index.read_text().splitlines()) >= count:
            return
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.05)
    raise AssertionError(f"no {count} rows in {timeout_s} s")


def test_run_on_two_nodes_records_each_task_once_with_its_trajectory(cluster, tmp_path):
    out = tmp_path / "run"
    done = cluster.run(*_bench(cluster, out, "--agent", "oracle", "--limit", "12", "--workers", "3"))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _completed_once(out, 12)
    assert all(row["success"] and row["attempts"] == 1 for row in rows)
    # the driver wrote each trajectory the actors shipped back, ending with the row it recorded
    for row in rows:
        lines = (out / "episodes" / f"{row['task_id']}__s{row['seed']}" / "trajectory.jsonl").read_text().splitlines()
        assert json.loads(lines[-1])["result"]["steps"] == row["steps"]
    manifest = json.loads((out / "run.json").read_text())
    assert (manifest["executor"], manifest["address"], manifest["status"]) == ("ray", f"127.0.0.1:{PORT}", "finished")


def test_a_matrix_with_auto_counts_sizes_each_arm_from_the_cluster_and_logs_the_actors_decisions(cluster, tmp_path):
    out = tmp_path / "grid"
    slow = ["--agent", "slow-oracle", "--agent", "oracle", "--import", str(cluster.base / "slow_oracle.py")]
    done = cluster.run(*_bench(cluster, out, *slow, "--limit", "40", "--workers", "auto", "--concurrency", "auto"))
    assert done.returncode == 0, done.stdout + done.stderr
    for arm in ("slow-oracle", "oracle"):
        _completed_once(out / "arms" / arm, 40)
        manifest = json.loads((out / "arms" / arm / "run.json").read_text())
        # the cluster's 3 CPUs (1 + 2), not this machine's cores, make the workers
        assert (manifest["executor"], manifest["workers"], manifest["sessions"][-1]["workers"]) == ("ray", 3, 3)
        decisions = [json.loads(line) for line in (out / "arms" / arm / "concurrency.jsonl").read_text().splitlines()]
        assert decisions[0]["what"] == "workers" and "Ray cluster of 2 node(s) with 3 CPU" in decisions[0]["why"]
    grown = [record for record in map(json.loads, (out / "arms" / "slow-oracle" / "concurrency.jsonl").read_text()
                                      .splitlines()) if "node" in record]
    # the actors' own decisions reached the driver, which wrote them
    assert grown and all(record["what"] == "concurrency" and record["value"] <= 10 for record in grown)


def test_without_an_address_a_local_ray_is_started_and_stopped_with_the_run(cluster, tmp_path):
    out = tmp_path / "run"
    before = set(cluster.pids())
    done = cluster.run(*SIMYARD, "bench", "run", "ragen", "--agent", "oracle", "--limit", "6", "--workers", "2",
                       "--executor", "ray", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    _completed_once(out, 6)
    manifest = json.loads((out / "run.json").read_text())
    assert (manifest["executor"], manifest["address"]) == ("ray", None)
    deadline = time.monotonic() + 20
    while set(cluster.pids()) - before and time.monotonic() < deadline:  # the local Ray's processes wind down
        time.sleep(0.2)
    assert not {pid for pid in set(cluster.pids()) - before if _name(pid) in ("raylet", "gcs_server")}


def test_driver_killed_mid_run_then_resumed_finishes_every_task_once(cluster, tmp_path):
    out = tmp_path / "run"
    slow = ["--agent", "slow-oracle", "-o", "delay_s=0.1", "--import", str(cluster.base / "slow_oracle.py")]
    driver = cluster.popen(*_bench(cluster, out, *slow, "--limit", "24", "--workers", "3"))
    try:
        _wait_for_rows(out, 4, driver)
    finally:
        driver.kill()  # SIGKILL: no chance to tidy up
        driver.wait()
    recorded = len(_rows(out))
    assert recorded < 24
    # --resume alone: the executor and address come from run.json
    done = cluster.run(*SIMYARD, "bench", "run", "--resume", str(out), "--workers", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    _completed_once(out, 24)
    assert len(_rows(out)) == 24  # the first session's rows were kept, none run twice
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["executor"] == "ray" and manifest["status"] == "finished" and len(manifest["sessions"]) == 2


def test_ctrl_c_finishes_the_episodes_in_flight_and_starts_no_more(cluster, tmp_path):
    out = tmp_path / "run"
    slow = ["--agent", "slow-oracle", "-o", "delay_s=0.1", "--import", str(cluster.base / "slow_oracle.py")]
    driver = cluster.popen(*_bench(cluster, out, *slow, "--limit", "40", "--workers", "3"))
    try:
        _wait_for_rows(out, 3, driver)
        driver.send_signal(signal.SIGINT)
        output, _ = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 130, output
    assert f"simyard bench run --resume {out} --workers 3" in output  # not one actor where the run had three
    rows = _rows(out)
    assert 3 <= len(rows) < 40 and all(row["status"] == "completed" for row in rows)
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"


def test_worker_node_killed_mid_run_loses_only_its_episodes_in_flight(cluster, tmp_path):
    out = tmp_path / "run"
    # episodes of about a second, so the driver has surely heard that the lost node's actors started theirs
    slow = ["--agent", "slow-oracle", "-o", "delay_s=0.3", "--import", str(cluster.base / "slow_oracle.py")]
    driver = cluster.popen(*_bench(cluster, out, *slow, "--limit", "18", "--workers", "3"))
    try:
        _wait_for_rows(out, 4, driver)
        cluster.kill_worker_node()
        output, _ = driver.communicate(timeout=120)
    finally:
        driver.kill()
    assert driver.returncode == 0, output
    rows = _completed_once(out, 18)
    assert len(_rows(out)) == 18
    retried = [row for row in rows if row["attempts"] > 1]
    # the worker node held two actors: each lost its episode in flight, and at most one more whose row had not
    # reached the driver yet; those, and only those, ran again
    assert 1 <= len(retried) <= 2 * 2, [(row["task_id"], row["attempts"]) for row in rows]
    assert all(row["success"] for row in rows)


def test_an_address_nobody_answers_is_one_clear_line(cluster, tmp_path):
    out = tmp_path / "run"
    port = 1  # nothing listens there: a privileged port no Ray process of the namespace uses
    started = time.monotonic()
    done = cluster.run(*SIMYARD, "bench", "run", "ragen", "--agent", "oracle", "--limit", "2", "--executor", "ray",
                       "--address", f"127.0.0.1:{port}", "--out", str(out), timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 2
    assert f"the Ray cluster at 127.0.0.1:{port} did not answer" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()  # nothing was recorded, so the new run's directory is not left behind


def test_a_world_needing_more_than_any_node_has_is_refused_at_once(cluster, tmp_path):
    from simyard.platform import registry
    from simyard.tasks.files import write_task_file

    tasks = [task.model_copy(update={"world": "hungry-sokoban"}) for task in registry.load_suite("ragen")[:2]
             if task.world == "sokoban"] or pytest.skip("the ragen suite starts with no sokoban task")
    write_task_file(tmp_path / "hungry.jsonl", tasks)
    out = tmp_path / "run"
    started = time.monotonic()
    done = cluster.run(*SIMYARD, "bench", "run", str(tmp_path / "hungry.jsonl"), "--agent", "oracle", "--import",
                       str(cluster.base / "slow_oracle.py"), "--executor", "ray", "--address", f"127.0.0.1:{PORT}",
                       "--out", str(out), timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no node of the Ray cluster can hold one worker: each needs 64 CPU" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


WEDGED_RUN = '''
import json, sys
from simyard.platform.bench import run_bench
from simyard.platform.episode import Limits

summary = run_bench(sys.argv[1] + "/hang.jsonl", "tiny-counter", out=sys.argv[1] + "/run", workers=2, concurrency=2,
                    imports=[sys.argv[2]], limits=Limits(time_limit_s=1.0), watchdog_grace_s=0.5, executor="ray",
                    address=sys.argv[3])
print(json.dumps([result.to_dict() for result in summary.results]))
'''


def test_a_stuck_world_call_restarts_its_actor_and_its_neighbours_run_again_free(cluster, tmp_path):
    from simyard.platform.taskfiles import write_task_file
    from tests.platform.bench_worlds import tiny_tasks

    tasks = tiny_tasks(48, sleep_s=0.1)  # ~3 s of work left when the stuck call is noticed
    tasks[2] = tasks[2].model_copy(update={"config": {**tasks[2].config, "hang": True}})  # its step never returns
    write_task_file(tmp_path / "hang.jsonl", tasks)
    script = tmp_path / "wedged.py"
    script.write_text(WEDGED_RUN)
    plugin = Path(__file__).with_name("bench_worlds.py")
    done = cluster.run(sys.executable, str(script), str(tmp_path), str(plugin), f"127.0.0.1:{PORT}", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["task_id"]: row for row in json.loads(done.stdout.strip().splitlines()[-1])}
    assert (rows["t002"]["status"], rows["t002"]["reason"]) == ("timeout", "time_limit")
    others = [row for task_id, row in rows.items() if task_id != "t002"]
    assert len(others) == 47 and all(row["success"] for row in others)
    assert all(row["attempts"] == 1 for row in others)  # re-queued, not counted as tries
    assert len(_rows(tmp_path / "run")) == 48
    # the actor that exited without closing left no scratch (its trajectories waiting to travel included)
    assert not [path.name for path in cluster.tmpdir.iterdir() if path.name.startswith("simyard-")]


SILENT_SERVER = '''
import socket, sys, time
from simyard.platform.episode import Limits
from simyard.platform.errors import SimyardError
from simyard.platform.executor import WorkerSpec
from simyard.platform.ray_executor import RayExecutor

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(8)  # accepts TCP, never speaks Ray
executor = RayExecutor(WorkerSpec(sys.argv[1], "oracle", {}, Limits()), 1, f"127.0.0.1:{server.getsockname()[1]}",
                       connect_timeout_s=2)
started = time.monotonic()
try:
    list(executor.results())
except SimyardError as error:
    print(f"{time.monotonic() - started:.1f}", error.message)
executor.close()
'''


def test_a_server_that_accepts_but_never_speaks_ray_fails_within_the_timeout(cluster, tmp_path):
    script = tmp_path / "silent.py"
    script.write_text(SILENT_SERVER)
    done = cluster.run(sys.executable, str(script), str(tmp_path), timeout=60)
    elapsed, message = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert float(elapsed) < 10
    assert message.endswith("did not answer within 2 s")

