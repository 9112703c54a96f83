"""Bad input to `env serve`: an unknown world at start-up, malformed step payloads (HTTP 422 / a WebSocket error
naming the field, the session still usable), steps out of turn."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.sync.client import connect

from simyard.envserve.app import EnvServer
from simyard.platform import registry
from simyard.platform.api import Task
from simyard.platform.errors import UnknownNameError
from tests.cli.test_cli import simyard
from tests.envserve.conftest import served, wait_until
from tests.kind_worlds import ChoiceWorld


def test_an_unknown_world_is_refused_at_start_up_with_the_known_worlds_listed():
    with pytest.raises(UnknownNameError, match="no world named 'sokobam'") as refused:
        EnvServer("sokobam")
    assert "sokoban" in refused.value.hint and "frozenlake" in refused.value.hint
    done = simyard("env", "serve", "sokobam", "--port", "0")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "known worlds: bandit, countdown" in done.stderr


def test_bad_world_options_are_refused_at_start_up_by_name():
    done = simyard("env", "serve", "sokoban", "--world-opt", "tile=8", "--port", "0")
    assert done.returncode == 2 and "does not take the option(s) tile" in done.stderr and "tile_px" in done.stderr


def test_a_malformed_http_step_gets_422_naming_the_field_and_the_session_stays_usable():
    with served("sokoban") as running, httpx.Client(base_url=running.base_url) as http:
        assert http.post("/reset", json={"seed": 0}).status_code == 200
        for body, field in (({"action": {"move": 1}}, "action.action"), ({"actions": 1}, "action"),
                            ({"action": {"action": [1, 2]}}, "action.action"),
                            ({"action": {"action": 1}, "timeout_s": -1}, "timeout_s")):
            answer = http.post("/step", json=body)
            assert answer.status_code == 422, body
            assert answer.json()["message"].startswith(f"field {field!r}")
            assert any(problem["loc"][:2] == ["body", field.split(".")[0]] for problem in answer.json()["detail"])
        assert http.post("/step", content=b"{not json").status_code == 422
        assert http.get("/state").json()["step_count"] == 0  # nothing malformed reached the world
        assert http.post("/step", json={"action": {"action": "Down"}}).status_code == 200
        assert http.get("/state").json()["step_count"] == 1


def test_a_malformed_websocket_step_gets_an_error_naming_the_field_and_the_session_goes_on():
    with served("sokoban") as running, connect(running.base_url.replace("http", "ws") + "/ws") as socket:
        def talk(message: dict | str) -> dict:
            socket.send(message if isinstance(message, str) else json.dumps(message))
            return json.loads(socket.recv(timeout=10))

        assert talk({"type": "reset", "data": {"seed": 0}})["type"] == "observation"
        refused = talk({"type": "step", "data": {"act": 1}})
        assert refused["data"]["code"] == "VALIDATION_ERROR" and "'action'" in refused["data"]["message"]
        assert talk("{oops")["data"]["code"] == "INVALID_JSON"
        assert talk({"type": "jump"})["data"]["code"] == "UNKNOWN_TYPE"
        assert talk({"type": "step", "data": {"action": 1}})["type"] == "observation"
        assert talk({"type": "state"})["data"]["step_count"] == 1


def test_steps_out_of_turn_are_refused_with_what_to_do():
    with served("bandit") as running, httpx.Client(base_url=running.base_url) as http:
        early = http.post("/step", json={"action": {"action": 0}})
        assert early.status_code == 409 and "reset first" in early.json()["message"]
        http.post("/reset", json={"seed": 0})
        assert http.post("/step", json={"action": {"action": 0}}).json()["done"] is True  # one pull ends a bandit
        late = http.post("/step", json={"action": {"action": 0}})
        assert late.status_code == 409 and "episode is over" in late.json()["message"]
        wrong = http.post("/reset", json={"task": {"id": "x", "world": "sokoban"}})
        assert wrong.status_code == 422 and "this server serves 'bandit'" in wrong.json()["message"]
        nameless = http.post("/reset", json={"task": {"instruction": "pull"}})
        assert nameless.status_code == 422 and nameless.json()["message"] == "field 'task.id': Field required"


class MoodyWorld(ChoiceWorld):
    """The skills world, except that skill 1 raises inside the world and skill 2 takes 2 s."""

    name = "envserve-moody"

    def step(self, action):
        if action == 1:
            raise RuntimeError("the simulator fell over")
        if action == 2:
            time.sleep(2)
        return super().step(action)

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        return Task(id=f"moody-{seed}", world=cls.name)


@pytest.fixture
def moody_world():
    registry.register_world(MoodyWorld.name, MoodyWorld)
    try:
        yield MoodyWorld.name
    finally:
        registry._tables["world"].pop(MoodyWorld.name, None)


def test_a_world_that_raises_is_a_500_and_the_session_goes_on(moody_world):
    with served(moody_world, inline=False) as running, httpx.Client(base_url=running.base_url) as http:
        http.post("/reset", json={"seed": 0})
        broken = http.post("/step", json={"action": {"action": 1}})
        assert broken.status_code == 500 and "RuntimeError: the simulator fell over" in broken.json()["message"]
        assert http.post("/step", json={"action": {"action": 0}}).status_code == 200


def test_a_step_past_its_timeout_is_a_504_and_closes_the_session(moody_world):
    with served(moody_world, inline=False) as running, httpx.Client(base_url=running.base_url) as http:
        http.post("/reset", json={"seed": 0})
        started = time.monotonic()
        slow = http.post("/step", json={"action": {"action": 2}, "timeout_s": 0.2})
        assert slow.status_code == 504 and "timeout_s=0.2" in slow.json()["message"]
        assert time.monotonic() - started < 1.5
        after = http.post("/step", json={"action": {"action": 0}})
        assert after.status_code == 409 and "send a reset first" in after.json()["message"]
        assert wait_until(lambda: running.pool.open_worlds == 0, timeout_s=5)  # closed once the slow step returned
