"""The `openai` agent plays the household worlds as EmbodiedBench's planner does: its role, validity rules, numbered
action list and guidelines in the system prompt, the current frame attached, and a JSON plan of `{action_id,
action_name}` steps as the reply. Run against the project's real HTTP test server."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from simyard.agents.openai_agent import OpenAIAgent
from simyard.platform import registry
from simyard.platform.episode import run_episode_with
from simyard.sims.household import prompts
from tests.agents.chat_server import ChatServer


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def _plan_reply(env, task) -> str:
    """A reply in EmbodiedBench's four keys whose plan is the world's own solution."""
    env.reset(task, seed=0)
    plan = env.oracle()
    plan = plan if isinstance(plan, list) else [plan]
    names = env.action_spec().choices
    steps = [{"action_id": names.index(skill), "action_name": skill} for skill in plan]
    return json.dumps({"visual_state_description": "a room", "reasoning_and_reflection": "none yet",
                       "language_plan": "\n".join(f"{i}. {s}" for i, s in enumerate(plan, 1)),
                       "executable_plan": steps})


def test_the_openai_agent_solves_an_eb_alfred_task_from_one_embodiedbench_plan_with_the_frame_attached():
    task = registry.load_suite("eb-alfred")[0]
    env = registry.make("household", resolution=96)
    reply = _plan_reply(env, task)
    with ChatServer() as server:
        server.script(reply)
        agent = OpenAIAgent(model="test-model", base_url=server.base_url, timeout_s=5.0, max_attempts=1)
        result = run_episode_with(env, agent, task, seed=0)
        request = server.requests[0]
    env.close()
    assert (result.status, result.success, result.model_calls, result.invalid_actions) == ("completed", True, 1, 0)
    system = request["messages"][0]["content"]
    assert system.startswith(prompts.ALFRED_ROLE)
    # EmbodiedBench's order: role, validity rules, the numbered action list, guidelines, then the reply format
    order = [system.index(text) for text in ("- Pick up:", "action id 0: find a", "## Guidelines", "executable_plan")]
    assert order == sorted(order)
    parts = request["messages"][-1]["content"]
    assert task.instruction in "\n".join(part["text"] for part in parts if part["type"] == "text")
    urls = [part["image_url"]["url"] for part in parts if part["type"] == "image_url"]
    assert len(urls) == 1 and urls[0].startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1])))
    colours = image.convert("RGB").getcolors(maxcolors=1 << 16) or ()
    assert image.size == (96, 96) and len(colours) > 20  # a rendered room, not a blank
