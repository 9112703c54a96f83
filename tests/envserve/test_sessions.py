"""Sessions of `env serve`: idle ones are reaped with their worlds, the cap answers busy at once, a client that
vanishes mid-episode leaves no world behind."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.sync.client import connect

from tests.envserve.conftest import COUNTING, served, wait_until

openenv_client = pytest.importorskip("openenv.core.generic_client")


def ws_url(running) -> str:
    return running.base_url.replace("http", "ws", 1) + "/ws"


def talk(socket, message: dict) -> dict:
    socket.send(json.dumps(message))
    return json.loads(socket.recv(timeout=10))


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "threads"])
def test_a_silent_client_is_reaped_with_its_world_and_its_slot_is_free_again(counting_world, inline):
    with served(COUNTING, max_sessions=1, idle_timeout_s=0.3, inline=inline) as running:
        # a peer that stops talking looks, to the server, like a half-open socket: it hears nothing either way
        with connect(ws_url(running)) as silent:
            assert talk(silent, {"type": "reset", "data": {"seed": 1}})["type"] == "observation"
            assert counting_world.live == 1  # the start-up probe's world is closed; the session's is open
            assert wait_until(lambda: counting_world.live == 0 and running.pool.open_worlds == 0, timeout_s=5)
            goodbye = json.loads(silent.recv(timeout=5))
            assert goodbye["data"]["code"] == "SESSION_ERROR" and "idle" in goodbye["data"]["message"]
            with openenv_client.GenericEnvClient(base_url=running.base_url).sync() as client:
                assert client.reset(seed=2).done is False  # the one slot was given back
        assert running.pool.reaped == 1


def test_a_busy_server_answers_capacity_reached_at_once_over_websocket_and_503_over_http(counting_world):
    with served(COUNTING, max_sessions=1, idle_timeout_s=60) as running:
        with openenv_client.GenericEnvClient(base_url=running.base_url).sync() as first:
            first.reset(seed=0)
            started = time.monotonic()
            with pytest.raises(RuntimeError, match="CAPACITY_REACHED") as refused:
                with openenv_client.GenericEnvClient(base_url=running.base_url).sync() as second:
                    second.reset(seed=0)
            assert time.monotonic() - started < 2 and "1 of 1 sessions" in str(refused.value)
            answer = httpx.post(running.base_url + "/reset", json={}, headers={"X-Session-Id": "late"})
            assert answer.status_code == 503 and "busy" in answer.json()["message"]
            assert first.step({"action": 0}).done is False  # the session holding the slot is unharmed
        assert wait_until(lambda: running.pool.open_worlds == 0)
        assert httpx.post(running.base_url + "/reset", json={}).status_code == 200  # free again


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "threads"])
def test_a_client_that_drops_mid_episode_leaves_no_world_open(counting_world, inline):
    with served(COUNTING, max_sessions=4, idle_timeout_s=None, inline=inline) as running:
        for _ in range(3):
            with connect(ws_url(running)) as socket:
                talk(socket, {"type": "reset", "data": {"seed": 0}})
                assert talk(socket, {"type": "step", "data": {"action": 0}})["type"] == "observation"
                socket.socket.close()  # the TCP connection goes away without a WebSocket close
        assert wait_until(lambda: counting_world.live == 0 and running.pool.open_worlds == 0)
        assert running.pool.worlds_built == running.pool.worlds_closed == 3
