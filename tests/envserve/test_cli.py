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


PLUGIN = '''
import simyard


class Shout(simyard.Env):
    """Repeat the instruction in capitals: a plugin world with text actions."""

    name = "shout-plugin"

    def reset(self, task, seed=None):
        self.word = task.config.get("word", "hello")
        return simyard.Observation(f"say {self.word} loudly")

    def step(self, action):
        right = action == self.word.upper()
        info = {"valid": True, "feedback": "yes" if right else "louder", "success": right, "progress": float(right)}
        return simyard.StepResult(simyard.Observation(info["feedback"]), float(right), right, False, info)

    def action_spec(self):
        return simyard.ActionSpec(kind="text", help="the word, in capitals")

    def oracle(self):
        return self.word.upper()

    @classmethod
    def sample_task(cls, seed):
        return simyard.Task(id=f"shout-{seed}", world=cls.name, config={"word": ["hello", "there"][seed % 2]})


simyard.register_world("shout-plugin", Shout)
'''


def test_env_serve_serves_a_plugin_world_named_by_import(tmp_path):
    plugin = tmp_path / "shout.py"
    plugin.write_text(PLUGIN)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "simyard", "env", "serve", "shout-plugin", "--import",
                                str(plugin), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        banner = process.stdout.readline()
        found = re.search(r"at (http://127\.0\.0\.1:\d+) ", banner)
        assert found and "text actions" in banner, banner + process.stderr.read()
        with openenv_client.GenericEnvClient(base_url=found.group(1)).sync() as client:
            assert client.reset(task_seed=1).observation["text"] == "say there loudly"
            assert client.step({"action": "there"}).observation["info"]["feedback"] == "louder"
            assert client.step({"action": "THERE"}).done is True
    finally:
        process.terminate()
        process.wait(timeout=20)
