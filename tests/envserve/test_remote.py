"""The `remote` world: simyard playing worlds that another process serves over OpenEnv's protocol, both simyard's
own `env serve` and a server built with openenv-core's helpers."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import pytest

from simyard.envserve.app import BackgroundEnvServer, EnvServer
from simyard.platform import registry
from simyard.platform.api import Agent, Observation
from simyard.platform.bench import run_bench
from simyard.platform.errors import InfraError, SimyardError
from simyard.platform.rundir import RunDir
from simyard.serve.http import bind
from simyard.testing.conformance import all_passed, check_world, summary
from tests.envserve.conftest import served, wait_until

openenv_types = pytest.importorskip("openenv.core.env_server.types")
openenv_server = pytest.importorskip("openenv.core.env_server.http_server")
openenv_interfaces = pytest.importorskip("openenv.core.env_server.interfaces")


def test_bench_run_on_a_world_served_by_simyard_solves_every_task_and_leaves_no_world_open(tmp_path):
    with served("sokoban", max_sessions=4) as running:
        summary_ = run_bench("remote", "oracle", None, limit=6, out=tmp_path / "run",
                             suite_options={"suite": "ragen", "world": "sokoban"},
                             world_options={"url": running.base_url})
        assert summary_.status == "finished"
        assert [(row.status, row.success) for row in summary_.results] == [("completed", True)] * 6
        ragen_ids = [task.id for task in registry.load_suite("ragen") if task.world == "sokoban"][:6]
        assert [row.task_id for row in RunDir(tmp_path / "run").results()] == ragen_ids
        assert running.pool.open_worlds == 0 and not running.pool.sessions  # the run closed its worlds


def test_the_remote_world_passes_the_contract_checks_against_a_served_world():
    with served("frozenlake") as running:
        results = check_world("remote", sample=2, world_options={"url": running.base_url})
    assert all_passed(results), summary(results) + "\n" + "\n".join(r.detail for r in results if not r.passed)


def test_unreachable_or_malformed_urls_are_one_clear_line():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: nothing answers
        with pytest.raises(SimyardError, match=f"no OpenEnv server answers at http://127.0.0.1:{port}"):
            registry.make("remote", url=f"http://127.0.0.1:{port}", connect_timeout_s=2)
    with pytest.raises(SimyardError, match="needs a server URL"):
        registry.make("remote")
    with pytest.raises(SimyardError, match="needs a server URL"):
        registry.make("remote", url="ftp://example")


def test_a_server_that_goes_away_mid_episode_is_an_infrastructure_failure():
    running = BackgroundEnvServer(EnvServer("sokoban")).start()
    world = registry.make("remote", url=running.base_url, message_timeout_s=5)
    world.reset(world.sample_task(1), seed=1)
    running.stop()
    with pytest.raises(InfraError, match="lost the OpenEnv server"):
        world.step(0)
    world.close()


# ----------------------------------------------------------------------- a server made with openenv-core's helpers


class GuessAction(openenv_types.Action):
    guess: int


class GuessObservation(openenv_types.Observation):
    hint: str = ""


class GuessNumber(openenv_interfaces.Environment):
    """Guess a number 0..100 from higher/lower hints: an OpenEnv environment written the way its docs show."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self) -> None:
        super().__init__()
        self.secret, self.steps = 0, 0

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> GuessObservation:
        self.secret, self.steps = (seed or 0) * 37 % 101, 0
        return GuessObservation(hint="guess a number from 0 to 100")

    def step(self, action: GuessAction, timeout_s: float | None = None, **kwargs: Any) -> GuessObservation:
        self.steps += 1
        if action.guess == self.secret:
            return GuessObservation(hint="right", done=True, reward=1.0)
        return GuessObservation(hint="higher" if action.guess < self.secret else "lower", reward=0.0)

    @property
    def state(self) -> openenv_types.State:
        return openenv_types.State(step_count=self.steps)


class Bisect(Agent):
    """Binary search on the server's hints, reading them from the JSON the remote world shows."""

    def reset(self, task, spec) -> None:
        assert spec.kind == "json" and "guess" in spec.schema["properties"]
        self.low, self.high, self.last = 0, 100, None

    def act(self, observation: Observation) -> dict:
        hint = observation.data.get("hint")
        if hint == "higher":
            self.low = self.last + 1
        elif hint == "lower":
            self.high = self.last - 1
        self.last = (self.low + self.high) // 2
        return {"guess": self.last}


class OpenEnvServer:
    """GuessNumber behind openenv-core's own FastAPI app, on uvicorn in a thread, on loopback and a free port."""

    def __init__(self) -> None:
        import uvicorn

        app = openenv_server.create_fastapi_app(GuessNumber, GuessAction, GuessObservation, max_concurrent_envs=4)
        self.sock = bind("127.0.0.1", 0)
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])),
                                       daemon=True)

    def __enter__(self) -> OpenEnvServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def test_the_remote_world_plays_a_server_built_with_openenv_core_helpers():
    import simyard

    with OpenEnvServer() as server:
        world = registry.make("remote", url=server.base_url)
        try:
            task = world.sample_task(0).model_copy(update={"max_steps": 10})
            for seed in (3, 4):
                result = simyard.run_episode(world, Bisect(), task=task, seed=seed)
                assert result.status == "completed" and result.reason == "terminated"
                assert result.reward == 1.0 and result.steps <= 7  # bisection finds 0..100 within 7 guesses
            bad = world.step("not an object")
            assert bad.info["valid"] is False and "JSON-object" in bad.info["feedback"]
            world.reset(task, seed=3)
            refused = world.step({"guess": "many"})
            assert refused.info["valid"] is False and "refused the action" in refused.info["feedback"]
        finally:
            world.close()


def test_a_remote_world_whose_session_was_reaped_between_episodes_reconnects_at_the_next_reset():
    with served("sokoban", idle_timeout_s=0.2) as running:
        world = registry.make("remote", url=running.base_url)
        try:
            world.reset(world.sample_task(1), seed=1)
            assert wait_until(lambda: running.pool.reaped == 1)
            first = world.reset(world.sample_task(2), seed=2)
            assert first.text == registry.make("sokoban").reset(registry.world_class("sokoban").sample_task(2), 2).text
            assert world.step("Up").info["valid"] is True
        finally:
            world.close()
