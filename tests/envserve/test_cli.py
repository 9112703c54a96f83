"""`simyard env serve` as a user starts it: a real process on a free loopback port, played by openenv-core's client,
stopped by SIGTERM with exit code 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from simyard.platform import registry
from tests.cli.test_cli import REPO, simyard

openenv_client = pytest.importorskip("openenv.core.generic_client")


def test_env_serve_process_is_played_by_openenv_client_and_stops_cleanly_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "simyard", "env", "serve", "countdown", "--port", "0",
                                "--max-sessions", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    try:
        banner = process.stdout.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+) ", banner)
        assert found, banner + process.stderr.read()
        local = registry.make("countdown")
        expected = local.reset(local.sample_task(5), seed=5)
        judged = local.step("1 + 2")
        with openenv_client.GenericEnvClient(base_url=found.group(1)).sync() as client:
            assert client.reset(seed=5, task_seed=5).observation["text"] == expected.text
            answer = client.step({"action": "1 + 2"})
            assert answer.done is True and answer.reward == judged.reward
            assert answer.observation["info"] == {**judged.info}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_env_serve_help_shows_examples():
    done = simyard("env", "serve", "--help")
    assert done.returncode == 0 and "Example" in done.stdout and "--max-sessions" in done.stdout
