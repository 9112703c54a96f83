"""Sandboxes for the tests: a fresh one per test on its own workspace, over bwrap and (really) docker.

Docker tests run for real: CI's set-up starts dockerd and builds the base image. They are skipped only where they
cannot run at all (no docker binary, or not root), never because the daemon is down: then they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simyard.sandboxes.base import Limits
from simyard.sandboxes.factory import make_sandbox
from tests.needs import docker_skip_reason

#: Small limits, so the containment tests are quick.
LIMITS = Limits(timeout_s=20, cpu_s=20, memory_mb=256, pids=64, output_bytes=4096)
RUN_ID = f"tests-{os.getpid()}"


@pytest.fixture(scope="session")
def docker_image() -> str:
    """simyard's base image (built once, cached by the daemon, when setup.sh did not already build it)."""
    reason = docker_skip_reason()
    if reason:
        pytest.skip(reason)
    from simyard.sandboxes.images import ensure_base_image

    return ensure_base_image()


KINDS = ["bwrap", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture
def make(request, tmp_path: Path):
    """make(kind, limits=LIMITS, **options) -> a sandbox on a fresh workspace, closed after the test."""
    made = []

    def _make(kind: str, limits: Limits = LIMITS, workspace: Path | None = None, **options):
        if kind == "docker":
            options.setdefault("image", request.getfixturevalue("docker_image"))
            options.setdefault("run_id", RUN_ID)
        ws = workspace or tmp_path / f"ws{len(made)}"
        ws.mkdir(parents=True, exist_ok=True)
        sandbox = make_sandbox(kind, ws, limits, **options)
        made.append(sandbox)
        return sandbox

    yield _make
    for sandbox in made:
        sandbox.close()


@pytest.fixture(params=KINDS)
def sandbox(request, make):
    """A fresh isolating sandbox (bwrap, then docker) on an empty workspace."""
    return make(request.param)
