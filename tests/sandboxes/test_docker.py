"""The Docker sandbox's own promises: a dead daemon is infrastructure, containers are labelled, removed and swept,
environment images are built once from a Dockerfile or a base image, and nothing is pulled."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from simyard.platform.errors import InfraError, SandboxError
from simyard.sandboxes.base import SandboxLost
from tests.sandboxes.conftest import LIMITS, RUN_ID

pytestmark = pytest.mark.docker


def _labelled(client, run_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"simyard.run={run_id}"})


def test_a_dead_daemon_is_sandbox_lost_with_the_hint(tmp_path):
    from simyard.sandboxes.docker import DockerSandbox

    with pytest.raises(SandboxLost) as caught:
        DockerSandbox(tmp_path, LIMITS, base_url="unix:///nonexistent/simyard/docker.sock")
    assert isinstance(caught.value, InfraError)  # the episode ends infra_error and is retried, never failed
    assert "sandbox=bwrap" in caught.value.hint and "dockerd" in caught.value.hint


def test_a_container_removed_under_the_episode_is_sandbox_lost(make):
    sandbox = make("docker")
    sandbox.container.remove(force=True)
    with pytest.raises(SandboxLost):
        sandbox.run("echo hi")


def test_containers_are_labelled_by_run_and_removed_on_close(make):
    from simyard.sandboxes.docker import docker_client, owner_id

    client = docker_client()
    run_id = f"{RUN_ID}-labels"
    sandbox = make("docker", run_id=run_id)
    (container,) = _labelled(client, run_id)
    assert container.labels["simyard.owner"] == owner_id()
    assert container.attrs["HostConfig"]["NetworkMode"] == "none"
    assert container.attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert container.attrs["HostConfig"]["PidsLimit"] >= LIMITS.pids
    sandbox.close()
    sandbox.close()  # twice is fine
    assert _labelled(client, run_id) == []
    with pytest.raises(SandboxError):
        sandbox.run("true")


def test_the_sweep_removes_containers_a_crashed_process_left(docker_image):
    from simyard.sandboxes.docker import docker_client, sweep_containers

    client = docker_client()
    run_id = f"{RUN_ID}-crash"
    crash = textwrap.dedent(
        f"""
        import os, tempfile
        from simyard.sandboxes.docker import DockerSandbox
        sandbox = DockerSandbox(tempfile.mkdtemp(), image={docker_image!r}, run_id={run_id!r})
        print(sandbox.container.id, flush=True)
        os._exit(1)  # no close, no atexit: what a killed worker leaves
        """
    )
    done = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=120)
    left = done.stdout.strip()
    assert left and [c.id for c in _labelled(client, run_id)] == [left]
    assert sweep_containers(client) >= 1
    assert _labelled(client, run_id) == []


def test_the_sweep_keeps_containers_of_live_processes(make):
    from simyard.sandboxes.docker import docker_client, sweep_containers

    run_id = f"{RUN_ID}-live"
    sandbox = make("docker", run_id=run_id)
    sweep_containers(docker_client())
    assert sandbox.run("echo kept").stdout == "kept\n"
    assert sweep_containers(docker_client(), run_id=run_id) == 1  # a run's own containers, on request
    assert _labelled(docker_client(), run_id) == []


def test_an_environment_image_is_built_once_from_a_dockerfile(make, docker_image, tmp_path):
    from simyard.sandboxes.images import build_image

    context = tmp_path / "env"
    context.mkdir()
    (context / "marker.txt").write_text("from the context\n")
    (context / "Dockerfile").write_text(f"FROM {docker_image}\nCOPY marker.txt /opt/marker.txt\n")
    tag = build_image(dockerfile=context / "Dockerfile")
    assert tag.startswith("simyard/env:")
    assert build_image(dockerfile=context / "Dockerfile") == tag  # found by its content tag
    sandbox = make("docker", image=tag)
    assert sandbox.run("cat /opt/marker.txt").stdout == "from the context\n"
    (context / "marker.txt").write_text("changed\n")
    assert build_image(dockerfile=context / "Dockerfile") != tag  # a changed context is another environment


def test_an_environment_image_from_a_named_base_with_setup_commands(make, docker_image):
    from simyard.sandboxes.images import build_image

    tag = build_image(base=docker_image, setup=["echo set-up > /opt/setup.txt"])
    assert make("docker", image=tag).run("cat /opt/setup.txt").stdout == "set-up\n"


def test_nothing_is_pulled_and_a_missing_image_says_so(make, docker_image, tmp_path):
    from simyard.sandboxes.images import build_image

    with pytest.raises(SandboxError, match="nothing is pulled"):
        build_image(base="simyard-test/not-here:1")
    with pytest.raises(SandboxError, match="not found locally"):
        make("docker", image="simyard-test/not-here:1")
    broken = tmp_path / "Dockerfile"
    broken.write_text(f"FROM {docker_image}\nRUN exit 3\n")
    with pytest.raises(SandboxError, match="failed"):
        build_image(dockerfile=broken)


def test_a_command_that_kills_everything_does_not_lose_the_sandbox(make):
    sandbox = make("docker")
    sandbox.write_file("kept.txt", "still here")
    sandbox.run("bash -c 'kill -9 -1'")  # takes the container's keepalive with it: the container stops
    assert sandbox.run("cat kept.txt").stdout == "still here"  # started again, the workspace as it was
