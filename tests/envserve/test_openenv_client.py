"""openenv-core's own client (`GenericEnvClient`, unchanged) playing simyard worlds served by `EnvServer`."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from simyard.envserve.codec import decode_image
from simyard.platform import registry
from tests.envserve.conftest import served

openenv_client = pytest.importorskip("openenv.core.generic_client")


def test_openenv_client_plays_a_sokoban_room_exactly_as_the_world_in_process():
    local = registry.make("sokoban")
    task = local.sample_task(3)
    expected = local.reset(task, seed=3)
    with served("sokoban") as running, openenv_client.GenericEnvClient(base_url=running.base_url).sync() as client:
        first = client.reset(seed=3, task_seed=3)
        assert first.observation["text"] == expected.text and first.done is False
        plan = []
        while not (plan and plan[-1][1].terminated):
            move = local.oracle()
            move = move[0] if isinstance(move, list) else move
            plan.append((move, local.step(move)))
        for number, (move, result) in enumerate(plan, 1):
            name = local.action_spec().choices[local.action_spec().choice_id(move)]
            remote = client.step({"action": name})  # by name over the wire, as an LLM trainer would send it
            assert remote.observation["text"] == result.observation.text
            assert remote.reward == pytest.approx(result.reward)
            assert remote.done == (number == len(plan))
        assert remote.observation["info"]["success"] is True
        state = client.state()
        assert state["step_count"] == len(plan) and state["task_id"] == task.id
    local.close()


def test_images_travel_as_png_data_urls_equal_to_the_frames_in_process():
    local = registry.make("navigation", resolution=64)
    task = local.sample_task(2)
    start = local.reset(task, seed=2)
    after = local.step(0)
    with served("navigation", {"resolution": 64}) as running, \
            openenv_client.GenericEnvClient(base_url=running.base_url).sync() as client:
        first = client.reset(seed=2, task_seed=2)
        url = first.observation["images"]["rgb"]
        assert url.startswith("data:image/png;base64,")
        assert np.array_equal(decode_image(url), start.images["rgb"])
        second = client.step({"action": 0})
        assert np.array_equal(decode_image(second.observation["images"]["rgb"]), after.observation.images["rgb"])
        assert second.observation["info"]["distance"] == pytest.approx(after.info["distance"])
    local.close()


def test_http_sessions_named_by_header_play_separate_episodes():
    with served("frozenlake") as running, httpx.Client(base_url=running.base_url) as http:
        for name, seed in (("a", 2), ("b", 1)):
            answer = http.post("/reset", json={"seed": seed, "task_seed": seed}, headers={"X-Session-Id": name})
            assert answer.status_code == 200 and answer.headers["X-Session-Id"] == name
        for move in ("Left", 1):
            stepped = http.post("/step", json={"action": {"action": move}, "timeout_s": 5},
                                headers={"X-Session-Id": "a"})
            assert stepped.status_code == 200 and stepped.json()["done"] is False
        state_a = http.get("/state", headers={"X-Session-Id": "a"}).json()
        state_b = http.get("/state", headers={"X-Session-Id": "b"}).json()
        assert (state_a["step_count"], state_b["step_count"]) == (2, 0)
        assert state_a["task_id"] != state_b["task_id"]
        schema = http.get("/schema").json()
        assert schema["action"]["required"] == ["action"]
        assert schema["action"]["x-simyard-action-spec"]["choices"] == ["Left", "Down", "Right", "Up"]
        assert http.get("/metadata").json()["name"] == "frozenlake"
        assert http.get("/health").json() == {"status": "healthy", "sessions": 2, "max_sessions": 16,
                                              "open_worlds": 2}


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "threads"])
def test_concurrent_openenv_clients_each_solve_their_own_room(inline):
    import asyncio

    def plan_for(seed: int) -> list[str]:
        local = registry.make("sokoban")
        local.reset(local.sample_task(seed), seed=seed)
        names, done = [], False
        while not done:
            move = local.oracle()
            move = move[0] if isinstance(move, list) else move
            names.append(local.action_spec().choices[local.action_spec().choice_id(move)])
            done = local.step(move).terminated
        local.close()
        return names

    plans = {seed: plan_for(seed) for seed in range(8)}

    async def play(base_url: str, seed: int) -> bool:
        async with openenv_client.GenericEnvClient(base_url=base_url) as client:
            await client.reset(seed=seed, task_seed=seed)
            for name in plans[seed]:
                result = await client.step({"action": name})
                await asyncio.sleep(0)  # let the other sessions' steps interleave with this one's
            return result.done and result.observation["info"]["success"]

    async def play_all(base_url: str) -> list[bool]:
        return await asyncio.gather(*(play(base_url, seed) for seed in plans))

    with served("sokoban", max_sessions=8, inline=inline) as running:
        assert asyncio.run(play_all(running.base_url)) == [True] * 8
        assert running.pool.worlds_built == 8
