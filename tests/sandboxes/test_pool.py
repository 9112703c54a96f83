"""The warm pool: per worker through Resources, sandboxes lent and given back, Docker containers re-bound warm."""

from __future__ import annotations

import os

import pytest

from simyard.platform.errors import SandboxError
from simyard.platform.resources import Resources
from simyard.sandboxes.pool import SandboxPool, sandbox_pool
from tests.sandboxes.conftest import LIMITS, RUN_ID


def _workspace(tmp_path, name: str, text: str):
    ws = tmp_path / name
    ws.mkdir()
    (ws / "which.txt").write_text(text)
    return ws


def test_a_bwrap_pool_lends_sandboxes_on_any_workspace(tmp_path):
    with Resources("worker") as resources:
        pool = sandbox_pool(resources, "bwrap", LIMITS)
        assert sandbox_pool(resources, "bwrap", LIMITS) is pool  # one per worker and settings
        for name in ("a", "b"):
            with pool.acquire(_workspace(tmp_path, name, name)) as sandbox:
                assert sandbox.run("cat which.txt").stdout == name
                assert sandbox.kind == "bwrap" and sandbox.workdir == "/workspace"
        with pytest.raises(SandboxError):
            sandbox.run("true")  # given back
    with pytest.raises(SandboxError):
        pool.acquire(tmp_path)  # closed with the scope


@pytest.mark.docker
@pytest.mark.skipif(os.geteuid() != 0, reason="warm containers re-bind workspaces with mounts (root only)")
def test_a_docker_pool_rebinds_warm_containers_between_episodes(tmp_path, docker_image):
    from simyard.sandboxes.docker import docker_client

    run_id = f"{RUN_ID}-pool"
    pool = SandboxPool("docker", LIMITS, size=1, image=docker_image, run_id=run_id)
    try:
        assert pool.warm
        first = pool.acquire(_workspace(tmp_path, "one", "first"))
        container = first.inner.container.id
        assert first.run("cat which.txt").stdout == "first"
        first.run("echo left > /tmp/left-by-episode-one && echo out > result.txt")
        first.close()
        assert (tmp_path / "one" / "result.txt").read_text() == "out\n"  # written through the re-bound mount
        second = pool.acquire(_workspace(tmp_path, "two", "second"))
        assert second.inner.container.id == container  # the same warm container, re-bound
        assert second.run("cat which.txt; ls /tmp").stdout == "second"  # nothing of episode one
        assert second.read_file("which.txt") == b"second"
        second.close()
        assert not (tmp_path / "two" / "result.txt").exists()
    finally:
        pool.close()
    client = docker_client()
    assert client.containers.list(all=True, filters={"label": f"simyard.run={run_id}"}) == []
    assert pool.directory is not None and not pool.directory.exists()
    assert (tmp_path / "one" / "which.txt").read_text() == "first"  # closing the pool never touches workspaces
