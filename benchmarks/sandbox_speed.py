"""How long an episode waits before its first command: a workspace plus a sandboxed `true`, bwrap and docker, cold and
from the warm pool. Prints medians beside anchors measured in the same run.

1. Workspace: a `git worktree add --detach` of a tiny temporary repository (20 files, 3 commits), and a plain copy.
2. bwrap: workspace + `BwrapSandbox` + `run("true")` (through `bash -lc`, as an agent's command goes). Cold and
   warm are the same thing here (nothing to keep warm); the pool row shows the pool adds nothing.
3. docker: workspace + a fresh container + `run("true")` (cold), and workspace + `SandboxPool.acquire` (a warm
   container re-bound to the workspace) + `run("true")` (warm; root only). Removing a cold container and giving a
   warm one back happen after the episode and are timed apart.
4. Anchors: raw `bwrap --unshare-all ... echo` and raw `docker run --rm simyard/base:bookworm true` (the CLI).

Aims: under 50 ms with bwrap and under 400 ms with docker for a workspace plus a sandboxed `true`.

Run: python benchmarks/sandbox_speed.py [--n 40] [--docker-n 15] [--no-docker]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from simyard.sandboxes.base import Limits
from simyard.sandboxes.bwrap import BwrapSandbox
from simyard.sandboxes.pool import SandboxPool

LIMITS = Limits(timeout_s=30)
RAW_BWRAP = [
    "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
    "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--", "echo", "hi",
]  # fmt: skip


def tiny_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@simyard"]
    subprocess.run([*git, "init", "-q"], check=True)
    for commit in range(3):
        for i in range(20):
            (repo / f"mod{i}.py").write_text(f"def f{i}():\n    return {commit}\n")
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", f"c{commit}"], check=True)
    return repo


class Workspaces:
    """Per-episode workspaces of the tiny repository: worktrees (or copies), removed after each measurement."""

    def __init__(self, repo: Path, root: Path, how: str = "worktree") -> None:
        self.repo, self.root, self.how, self.n = repo, root, how, 0

    def make(self) -> Path:
        self.n += 1
        path = self.root / f"ws{self.n}"
        if self.how == "worktree":
            subprocess.run(
                ["git", "-C", str(self.repo), "worktree", "add", "-q", "--detach", str(path), "HEAD"], check=True
            )
        else:
            shutil.copytree(self.repo, path, symlinks=True)
        return path

    def remove(self, path: Path) -> None:
        if self.how == "worktree":
            subprocess.run(["git", "-C", str(self.repo), "worktree", "remove", "--force", str(path)], check=True)
        else:
            shutil.rmtree(path)


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms  (min {min(samples) * 1000:.1f}, n={len(samples)})"


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="repetitions for bwrap and workspaces")
    parser.add_argument("--docker-n", type=int, default=15, help="repetitions for docker")
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="simyard-sandbox-speed-"))
    rows: list[tuple[str, str]] = []
    try:
        repo = tiny_repo(root)
        spaces = Workspaces(repo, root)
        copies = Workspaces(repo, root, "copy")

        def workspace_only(ws_maker: Workspaces):
            def step():
                ws_maker.remove(ws_maker.make())

            return step

        rows.append(("workspace: git worktree add + remove", median_ms(timed(workspace_only(spaces), args.n))))
        rows.append(("workspace: copy + remove", median_ms(timed(workspace_only(copies), args.n))))

        rows.append(
            (
                "anchor: raw bwrap ... echo",
                median_ms(timed(lambda: subprocess.run(RAW_BWRAP, capture_output=True), args.n)),
            )
        )  # noqa: E501

        def bwrap_cold() -> tuple[float, float]:
            start = time.perf_counter()
            ws = spaces.make()
            inner = time.perf_counter()
            sandbox = BwrapSandbox(ws, LIMITS)
            assert sandbox.run("true").ok
            end = time.perf_counter()
            sandbox.close()
            spaces.remove(ws)
            return end - start, end - inner

        both = [bwrap_cold() for _ in range(args.n)]
        rows.append(("bwrap: sandbox + run('true')", median_ms([inner for _, inner in both])))
        rows.append(("bwrap: worktree + sandbox + run('true')", median_ms([total for total, _ in both])))
        bwrap_pool = SandboxPool("bwrap", LIMITS)
        warm = []
        for _ in range(args.n):
            start = time.perf_counter()
            ws = spaces.make()
            with bwrap_pool.acquire(ws) as sandbox:
                assert sandbox.run("true").ok
                warm.append(time.perf_counter() - start)
            spaces.remove(ws)
        rows.append(("bwrap pool: worktree + acquire + run('true')", median_ms(warm)))
        bwrap_pool.close()

        if not args.no_docker:
            from simyard.sandboxes.docker import DockerSandbox
            from simyard.sandboxes.images import ensure_base_image

            image = ensure_base_image()
            raw = timed(lambda: subprocess.run(["docker", "run", "--rm", image, "true"], check=True), args.docker_n)
            rows.append(("anchor: raw docker run --rm <base> true", median_ms(raw)))
            cold, cold_close = [], []
            for _ in range(args.docker_n):
                start = time.perf_counter()
                ws = spaces.make()
                sandbox = DockerSandbox(ws, LIMITS, image=image, run_id="bench")
                assert sandbox.run("true").ok
                cold.append(time.perf_counter() - start)
                start = time.perf_counter()
                sandbox.close()
                cold_close.append(time.perf_counter() - start)
                spaces.remove(ws)
            rows.append(("docker cold: worktree + container + run('true')", median_ms(cold)))
            rows.append(("docker cold: removing the container (after)", median_ms(cold_close)))
            if os.geteuid() == 0:
                pool = SandboxPool("docker", LIMITS, size=2, image=image, run_id="bench")
                time.sleep(2)  # let it fill
                warm, give_back = [], []
                for _ in range(args.docker_n):
                    start = time.perf_counter()
                    ws = spaces.make()
                    sandbox = pool.acquire(ws)
                    assert sandbox.run("true").ok
                    warm.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    sandbox.close()
                    give_back.append(time.perf_counter() - start)
                    spaces.remove(ws)
                pool.close()
                rows.append(("docker warm pool: worktree + acquire + run('true')", median_ms(warm)))
                rows.append(("docker warm pool: giving it back (after)", median_ms(give_back)))
                runs = DockerSandbox(root, LIMITS, image=image, run_id="bench")
                rows.append(
                    (
                        "docker: one more run('true') in a live container",
                        median_ms(timed(lambda: runs.run("true"), args.docker_n)),
                    )
                )  # noqa: E501
                runs.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    width = max(len(name) for name, _ in rows)
    print(f"sandbox speed (cpus={os.cpu_count()}; aims: bwrap < 50 ms, docker < 400 ms)")
    for name, figure in rows:
        print(f"  {name:<{width}}  {figure}")


if __name__ == "__main__":
    main()
