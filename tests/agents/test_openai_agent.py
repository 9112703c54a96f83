"""The `openai` agent end to end: the official openai client over real HTTP to a scripted local server."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time

import pytest
from PIL import Image

from simyard.agents.openai_agent import OpenAIAgent
from simyard.platform import registry
from simyard.platform.api import Env, Observation, Task
from simyard.platform.episode import EpisodeResult, StepRecord, arun_episode_with, run_episode_with
from simyard.platform.errors import BackendError, SimyardError, UnknownNameError
from simyard.platform.resources import Resources

from ..kind_worlds import KIND_WORLDS
from .chat_server import ChatServer, Reply, token_id, tokens
from .worlds import SKILLS, CounterWorld, MugWorld

GOOD_PLAN = json.dumps(
    {
        "visual_state_description": "A kitchen; a mug on the counter.",
        "reasoning_and_reflection": "Nothing done yet.",
        "language_plan": "1. find the mug 2. pick it up 3. find the table 4. put it down",
        "executable_plan": [{"action_id": i, "action_name": SKILLS[i]} for i in range(4)],
    }
)


class Recorder:
    """Keeps the step records, to read the model calls attached to them."""

    def __init__(self) -> None:
        self.steps: list[StepRecord] = []

    def start(self, task: Task, seed: int | None, observation: Observation) -> None:
        pass

    def step(self, record: StepRecord) -> None:
        self.steps.append(record)

    def finish(self, result: EpisodeResult) -> None:
        pass

    @property
    def calls(self):
        return [call for step in self.steps for call in step.calls]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


@pytest.fixture
def server():
    with ChatServer() as chat:
        yield chat


def make_agent(server: ChatServer, **options) -> OpenAIAgent:
    settings = dict(model="test-model", base_url=server.base_url, timeout_s=2.0, max_attempts=3, backoff_s=0.01, seed=0)
    return OpenAIAgent(**(settings | options))


def user_text(request: dict) -> str:
    content = request["messages"][-1]["content"]
    return content if isinstance(content, str) else "\n".join(p["text"] for p in content if p["type"] == "text")


def test_embodiedbench_plan_runs_in_a_choice_world(server: ChatServer) -> None:
    server.script(f"```json\n{GOOD_PLAN}\n```")
    result = run_episode_with(MugWorld(), make_agent(server), MugWorld.task())
    assert (result.status, result.reason, result.success) == ("completed", "goal", True)
    assert (result.steps, result.invalid_actions, result.model_calls) == (4, 0, 1)


def test_prompt_lists_numbered_actions_instruction_and_format(server: ChatServer) -> None:
    server.script(GOOD_PLAN)
    run_episode_with(MugWorld(), make_agent(server, temperature=0.3, max_tokens=77), MugWorld.task())
    request = server.requests[0]
    system = request["messages"][0]["content"]
    assert request["model"] == "test-model" and request["temperature"] == 0.3 and request["max_tokens"] == 77
    assert "action id 0: find a Mug" in system and "action id 4: find a Sofa" in system
    assert "executable_plan" in system
    assert "Put the mug on the table." in user_text(request)
    assert server.headers[0]["authorization"] == "Bearer test-key"


def test_observation_image_arrives_as_png_data_url(server: ChatServer) -> None:
    server.script(GOOD_PLAN)
    run_episode_with(MugWorld(), make_agent(server), MugWorld.task())
    parts = server.requests[0]["messages"][-1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(urls) == 1 and urls[0].startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(urls[0].split(",", 1)[1])))
    assert (image.format, image.size, image.mode) == ("PNG", (8, 8), "RGB")


def test_ragen_reply_runs_a_multi_action_plan(server: ChatServer) -> None:
    server.script("<think>3 + 2 = 5</think><answer>add 3 || add 2</answer>")
    result = run_episode_with(CounterWorld(), make_agent(server), CounterWorld.task(target=5))
    assert (result.success, result.steps, result.model_calls) == (True, 2, 1)
    system = server.requests[0]["messages"][0]["content"]
    assert "<answer>" in system and "||" in system
    assert "You have 10 actions left" in user_text(server.requests[0])


def test_ragen_format_maps_choice_names_case_insensitively(server: ChatServer) -> None:
    server.script("<think>go</think><answer>FIND A MUG || pick up the mug || 2 || Put down the object in hand</answer>")
    recorder = Recorder()
    result = run_episode_with(MugWorld(), make_agent(server, format="ragen"), MugWorld.task(), recorder=recorder)
    assert result.success
    assert [step.action for step in recorder.steps] == [SKILLS[0], SKILLS[1], SKILLS[2], SKILLS[3]]


def test_malformed_reply_costs_one_invalid_step_and_the_episode_continues(server: ChatServer) -> None:
    server.script('Here is my plan: {"executable_plan": [oops', GOOD_PLAN)
    result = run_episode_with(MugWorld(), make_agent(server), MugWorld.task())
    assert (result.status, result.success) == ("completed", True)
    assert (result.steps, result.invalid_actions, result.model_calls) == (5, 1, 2)
    second = user_text(server.requests[1])
    assert "Step 1, no usable action" in second and "no JSON object" in second


def test_empty_plan_is_one_invalid_step(server: ChatServer) -> None:
    server.script(json.dumps({"language_plan": "", "executable_plan": []}), GOOD_PLAN)
    recorder = Recorder()
    result = run_episode_with(MugWorld(), make_agent(server), MugWorld.task(), recorder=recorder)
    assert (result.success, result.invalid_actions, result.steps) == (True, 1, 5)
    assert recorder.steps[0].action is None and "empty" in recorder.steps[0].info["feedback"]
    assert recorder.steps[0].calls[0].text.startswith("{")  # the failed reply is kept with its step


def test_replies_that_never_parse_end_at_the_invalid_cap(server: ChatServer) -> None:
    server.default = Reply(content="I refuse to answer in JSON.")
    result = run_episode_with(MugWorld(), make_agent(server), MugWorld.task(max_invalid=3))
    assert (result.reason, result.steps, result.model_calls, server.calls) == ("invalid_cap", 3, 3, 3)


def test_history_carries_the_world_feedback_to_the_next_prompt(server: ChatServer) -> None:
    server.script(json.dumps({"executable_plan": [{"action_id": 1, "action_name": "pick up the Mug"}]}), GOOD_PLAN)
    run_episode_with(MugWorld(), make_agent(server), MugWorld.task())
    assert "Step 1, action id 1, pick up the Mug, env feedback: Last action is invalid. Cannot find Mug" in user_text(
        server.requests[1]
    )


def test_id_name_mismatch_uses_the_id_and_tells_the_model(server: ChatServer) -> None:
    server.script(json.dumps({"executable_plan": [{"action_id": 0, "action_name": "find a Table"}]}), GOOD_PLAN)
    recorder = Recorder()
    run_episode_with(MugWorld(), make_agent(server), MugWorld.task(), recorder=recorder)
    assert recorder.steps[0].action == 0
    assert "action_id 0 is 'find a Mug' but action_name says 'find a Table'" in user_text(server.requests[1])


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_status_is_retried_and_counted(server: ChatServer, status: int) -> None:
    server.fail(status, 2)
    server.script(GOOD_PLAN)
    recorder = Recorder()
    result = run_episode_with(MugWorld(), make_agent(server), MugWorld.task(), recorder=recorder)
    assert (result.success, result.model_calls, server.calls) == (True, 1, 3)
    assert recorder.calls[0].retries == 2 and recorder.calls[0].latency_s > 0


def test_timeout_is_retried_then_succeeds(server: ChatServer) -> None:
    server.script(Reply(content=GOOD_PLAN, delay_s=1.0), GOOD_PLAN)
    recorder = Recorder()
    result = run_episode_with(MugWorld(), make_agent(server, timeout_s=0.2), MugWorld.task(), recorder=recorder)
    assert result.success and recorder.calls[0].retries == 1
    assert recorder.calls[0].latency_s >= 0.2


def test_exhausted_timeouts_end_that_episode_with_error_and_the_batch_goes_on(server: ChatServer) -> None:
    server.default = Reply(content=GOOD_PLAN)
    with ChatServer(default=Reply(content=GOOD_PLAN, delay_s=1.0)) as slow:

        async def batch() -> list[EpisodeResult]:
            stuck = arun_episode_with(
                MugWorld(), make_agent(slow, timeout_s=0.1, max_attempts=2), MugWorld.task("mug-slow")
            )
            fine = arun_episode_with(MugWorld(), make_agent(server), MugWorld.task("mug-fine"))
            return await asyncio.gather(stuck, fine)

        stuck, fine = asyncio.run(batch())
        assert slow.calls == 2
    # A server that stays unavailable is infrastructure, not the agent's fault: the runner retries such episodes.
    assert (stuck.status, stuck.reason, stuck.steps) == ("infra_error", "infra_error", 0)
    assert "BackendUnavailableError" in stuck.error and "failed after 2 attempts: timed out after 0.1 s" in stuck.error
    assert (fine.status, fine.success) == ("completed", True)


def test_unauthorized_fails_at_once_with_a_hint(server: ChatServer) -> None:
    server.script(Reply(status=401))
    result = run_episode_with(MugWorld(), make_agent(server), MugWorld.task())
    assert (result.status, server.calls) == ("agent_error", 1)
    assert "HTTP 401" in result.error and "OPENAI_API_KEY" in result.error


def test_tokens_and_latency_are_recorded(server: ChatServer) -> None:
    reply = Reply(content="<answer>add 1</answer>", prompt_tokens=123, completion_tokens=45, delay_s=0.05)
    server.script(reply, reply)
    recorder = Recorder()
    result = run_episode_with(CounterWorld(), make_agent(server), CounterWorld.task(target=2), recorder=recorder)
    assert (result.success, result.model_calls) == (True, 2)
    assert (result.prompt_tokens, result.completion_tokens) == (246, 90)
    assert [(c.prompt_tokens, c.completion_tokens) for c in recorder.calls] == [(123, 45), (123, 45)]
    assert all(c.latency_s >= 0.05 and c.retries == 0 for c in recorder.calls)


def test_missing_api_key_names_the_variable(server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(BackendError, match="OPENAI_API_KEY is not set") as caught:
        make_agent(server)
    assert "export OPENAI_API_KEY" in caught.value.hint and "api_key_env" in caught.value.hint


def test_api_key_comes_from_the_named_variable(server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVER_KEY", "other-key")
    server.script(GOOD_PLAN)
    run_episode_with(MugWorld(), make_agent(server, api_key_env="MY_SERVER_KEY"), MugWorld.task())
    assert server.headers[0]["authorization"] == "Bearer other-key"


def test_cli_string_options_are_converted(server: ChatServer) -> None:
    agent = registry.make_agent(
        "openai",
        model="m",
        base_url=server.base_url,
        temperature="0.5",
        max_tokens="64",
        max_attempts="2",
        timeout_s="3",
        backoff_s="0.01",
        history="0",
        format="auto",
    )
    assert isinstance(agent, OpenAIAgent) and agent.client.options.max_attempts == 2
    server.script("<answer>add 1</answer>")
    run_episode_with(CounterWorld(), agent, CounterWorld.task(target=1))
    assert (server.requests[0]["temperature"], server.requests[0]["max_tokens"]) == (0.5, 64)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": "hot"}, "temperature='hot' is not a number"),
        ({"max_attempts": "0"}, "max_attempts=0 must be >= 1"),
        ({"format": "xml"}, "no reply format named 'xml'"),
        ({"model": None}, "needs a model name"),
    ],
)
def test_bad_options_are_clear_errors(server: ChatServer, options: dict, message: str) -> None:
    with pytest.raises(SimyardError, match=message) as caught:
        make_agent(server, **options)
    assert caught.value.hint


def test_format_that_cannot_express_the_world_ends_the_episode_with_a_message(server: ChatServer) -> None:
    result = run_episode_with(CounterWorld(), make_agent(server, format="vector"), CounterWorld.task())
    assert result.status == "agent_error" and "cannot express the text actions" in result.error and server.calls == 0


def test_one_agent_runs_episodes_on_fresh_event_loops(server: ChatServer) -> None:
    agent = make_agent(server)
    server.script(GOOD_PLAN, GOOD_PLAN)
    first = run_episode_with(MugWorld(), agent, MugWorld.task("a"))  # each sync run is its own asyncio.run
    second = run_episode_with(MugWorld(), agent, MugWorld.task("b"))
    agent.close()
    assert first.success and second.success


def test_close_inside_the_loop_releases_the_client(server: ChatServer) -> None:
    agent = make_agent(server)
    server.script(GOOD_PLAN)

    async def episode() -> EpisodeResult:
        result = await arun_episode_with(MugWorld(), agent, MugWorld.task())
        await agent.aclose()
        return result

    assert asyncio.run(episode()).success
    agent.close()  # a second close is harmless


def test_sokoban_gets_ragen_format_and_solves_with_the_oracle_plan(server: ChatServer) -> None:
    sokoban = pytest.importorskip("simyard.sims.puzzles.sokoban")
    task = sokoban.SokobanEnv.sample_task(3)
    with sokoban.SokobanEnv() as probe:
        probe.reset(task, 3)
        spec, plan = probe.action_spec(), probe.oracle()
    names = [spec.choices[spec.choice_id(action)] for action in (plan if isinstance(plan, list) else [plan])]
    server.script(f"<think>push the box</think><answer>{' || '.join(names)}</answer>")
    with sokoban.SokobanEnv() as env:
        result = run_episode_with(env, make_agent(server), task, seed=3)
    assert (result.success, result.steps, result.model_calls) == (True, len(names), 1)
    assert "<answer>" in server.requests[0]["messages"][0]["content"]


def oracle_reply(world: Env, task: Task, seed: int) -> tuple[str, int]:
    """The whole oracle solution written as one reply in the world's auto format, and its length."""
    world.reset(task, seed)
    spec, plan = world.action_spec(), []
    for _ in range(task.max_steps):
        planned = world.oracle()
        single = not isinstance(planned, list) or (spec.kind == "vector" and not isinstance(planned[0], list))
        for action in [planned] if single else planned:
            plan.append(action)
            if world.step(action).terminated:
                if spec.kind == "choice":
                    ids = [spec.choice_id(a) for a in plan]
                    steps = [{"action_id": i, "action_name": spec.choices[i]} for i in ids]
                    return json.dumps({"executable_plan": steps}), len(plan)
                if spec.kind == "text":
                    return f"<think>solve</think><answer>{' || '.join(plan)}</answer>", len(plan)
                return json.dumps(plan), len(plan)
    raise AssertionError("the oracle did not finish")


@pytest.mark.parametrize("world_class", KIND_WORLDS, ids=lambda cls: cls.name)
def test_every_action_kind_runs_a_whole_plan_from_one_reply(server: ChatServer, world_class: type[Env]) -> None:
    task = Task(id=f"{world_class.name}-1", world=world_class.name, instruction="Solve it.", max_steps=10)
    with world_class() as probe:
        reply, length = oracle_reply(probe, task, seed=5)
    server.script(reply)
    with world_class() as world:
        result = run_episode_with(world, make_agent(server), task, seed=5)
    assert (result.success, result.steps, result.invalid_actions, result.model_calls) == (True, length, 0, 1)


# ----------------------------------------------------------------------------------- what real servers send back


def run_mug(server: ChatServer, **options) -> tuple[EpisodeResult, Recorder]:
    recorder = Recorder()
    result = run_episode_with(MugWorld(), make_agent(server, **options), MugWorld.task(), recorder=recorder)
    return result, recorder


def test_string_usage_is_coerced_or_dropped_and_the_call_recorded(server: ChatServer, caplog) -> None:
    server.script(Reply(content=GOOD_PLAN, prompt_tokens="123", completion_tokens="lots"))
    result, recorder = run_mug(server)
    assert (result.status, result.success) == ("completed", True)
    assert (recorder.calls[0].prompt_tokens, recorder.calls[0].completion_tokens) == (123, None)
    assert "usage.completion_tokens is 'lots', not a token count" in caplog.text


def test_reply_without_usage_is_recorded_without_counts(server: ChatServer) -> None:
    server.script(Reply(content=GOOD_PLAN, usage=False))
    result, recorder = run_mug(server)
    assert result.success and (recorder.calls[0].prompt_tokens, recorder.calls[0].completion_tokens) == (None, None)


def test_reply_without_choices_costs_one_invalid_step(server: ChatServer) -> None:
    server.script(Reply(choices=False), GOOD_PLAN)
    result, recorder = run_mug(server)
    assert (result.status, result.success, result.invalid_actions, result.model_calls) == ("completed", True, 1, 2)
    assert "no choices" in recorder.steps[0].info["feedback"] and recorder.steps[0].calls[0].prompt_tokens == 100


@pytest.mark.parametrize(
    ("body", "content_type", "what"),
    [
        (b"Internal error, try later", "text/plain", "a text/plain body that is not JSON: 'Internal error"),
        (b'{"choices": [{"message": {"content": "\xff\xfe"}}]}', "application/json", "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "nested too deeply"),
        (b'"just a string"', "application/json", "a JSON str"),
    ],
    ids=["text-plain", "bad-utf8", "deep-json", "not-an-object"],
)
def test_malformed_http_body_is_retried_then_one_clear_error(
    server: ChatServer, body: bytes, content_type: str, what: str
) -> None:
    server.default = Reply(body=body, content_type=content_type)
    result, recorder = run_mug(server, max_attempts=2)
    assert (result.status, server.calls, recorder.calls) == ("agent_error", 2, [])
    assert "BackendError" in result.error and "failed after 2 attempts" in result.error and what in result.error
    assert "\n" not in result.error


def test_malformed_body_once_is_retried_and_counted(server: ChatServer) -> None:
    server.script(Reply(body=b"<html>502 Bad Gateway</html>", content_type="text/html"), GOOD_PLAN)
    result, recorder = run_mug(server)
    assert result.success and recorder.calls[0].retries == 1


def test_deeply_nested_model_reply_costs_one_invalid_step(server: ChatServer) -> None:
    server.script("[" * 100_000, GOOD_PLAN)
    result, recorder = run_mug(server)
    assert (result.status, result.success, result.invalid_actions) == ("completed", True, 1)
    assert "no JSON object" in recorder.steps[0].info["feedback"]


def test_huge_reply_is_parsed_off_the_event_loop_in_bounded_time(server: ChatServer) -> None:
    server.script(
        "<answer>" * 20_000,
        "<answer>find a Mug || pick up the Mug || find a Table || put down the object in hand</answer>",
    )
    agent = make_agent(server, format="ragen")
    ticks = 0

    async def episode() -> EpisodeResult:
        nonlocal ticks

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        beat = asyncio.create_task(ticker())
        try:
            return await arun_episode_with(MugWorld(), agent, MugWorld.task())
        finally:
            beat.cancel()

    started = time.perf_counter()
    result = asyncio.run(episode())
    assert (result.success, result.invalid_actions) == (True, 1) and time.perf_counter() - started < 5
    assert ticks > 0


def test_cut_reply_records_finish_reason_length_and_tells_the_model(server: ChatServer) -> None:
    long_think = "<think>" + "very " * 100 + "</think><answer>add 1</answer>"
    server.script(long_think, "<answer>add 1</answer>")
    recorder = Recorder()
    result = run_episode_with(
        CounterWorld(), make_agent(server, max_tokens=50), CounterWorld.task(target=1), recorder=recorder
    )
    assert [call.finish_reason for call in recorder.calls] == ["length", "stop"]
    assert (result.success, result.invalid_actions) == (True, 1)
    assert "cut at the max_tokens limit" in recorder.steps[0].info["feedback"]


def test_finish_reason_is_recorded_on_every_call(server: ChatServer) -> None:
    server.script(Reply(content=GOOD_PLAN, finish_reason="stop"))
    _, recorder = run_mug(server)
    assert recorder.calls[0].finish_reason == "stop"


def test_logprobs_and_top_logprobs_are_requested_and_recorded(server: ChatServer) -> None:
    server.script("<think>one</think> <answer>add 1</answer>")
    recorder = Recorder()
    agent = make_agent(server, logprobs="true", top_logprobs="3")
    run_episode_with(CounterWorld(), agent, CounterWorld.task(target=1), recorder=recorder)
    request, call = server.requests[0], recorder.calls[0]
    assert (request["logprobs"], request["top_logprobs"]) == (True, 3) and "return_token_ids" not in request
    assert call.logprobs == [0.0, -0.25, -0.5] and call.token_ids is None  # one per token of the reply


def test_token_ids_come_from_vllm_return_token_ids(server: ChatServer) -> None:
    reply = "<think>one</think> <answer>add 1</answer>"
    server.script(reply)
    recorder = Recorder()
    run_episode_with(
        CounterWorld(),
        make_agent(server, logprobs=True, token_ids="true"),
        CounterWorld.task(target=1),
        recorder=recorder,
    )
    assert server.requests[0]["return_token_ids"] is True
    call = recorder.calls[0]
    assert call.token_ids == [token_id(piece) for piece in tokens(reply)] and len(call.logprobs) == len(call.token_ids)


def test_logprobs_null_after_asking_is_a_gap_and_the_episode_goes_on(server: ChatServer, caplog) -> None:
    server.script(Reply(content=GOOD_PLAN, logprobs=False))
    result, recorder = run_mug(server, logprobs=True)
    assert result.success and (recorder.calls[0].logprobs, recorder.calls[0].token_ids) == (None, None)
    assert "logprobs were asked for but the reply has none" in caplog.text


@pytest.mark.parametrize("refusal", ["concat-500", "text-model-400", "llama-500"])
def test_image_refusal_fails_at_once_and_says_images_never(refusal: str) -> None:
    with ChatServer(images=refusal) as text_only:
        result, _ = run_mug(text_only)
        assert text_only.calls == 1  # not retried as if the server were down
    assert result.status == "agent_error" and "does not take image content parts" in result.error
    with pytest.raises(BackendError) as caught:
        asyncio.run(_one_call(text_only_refusal=refusal))
    assert "images=never" in caught.value.hint


async def _one_call(text_only_refusal: str) -> None:
    with ChatServer(images=text_only_refusal) as text_only:
        agent = make_agent(text_only)
        agent.reset(MugWorld.task(), MugWorld().action_spec())
        await agent.act(MugWorld().reset(MugWorld.task()))


def test_images_never_sends_text_only_to_a_text_only_server() -> None:
    with ChatServer(images="concat-500") as text_only:
        text_only.script(GOOD_PLAN)
        result, _ = run_mug(text_only, images="never")
        content = text_only.requests[0]["messages"][-1]["content"]
    assert result.success and isinstance(content, str) and "Attached image" not in content


def test_images_always_ends_an_episode_without_frames(server: ChatServer) -> None:
    result = run_episode_with(CounterWorld(), make_agent(server, images="always"), CounterWorld.task())
    assert result.status == "agent_error" and "images=always" in result.error and server.calls == 0


def test_images_option_is_checked(server: ChatServer) -> None:
    with pytest.raises(SimyardError, match="images='sometimes' is not one of auto, always, never"):
        make_agent(server, images="sometimes")


def test_unlisted_model_warns_once_with_the_list(caplog) -> None:
    with ChatServer(models=["Qwen/Qwen2.5-7B-Instruct", "other"]) as listing:
        listing.script(GOOD_PLAN, GOOD_PLAN)
        agent = make_agent(listing)
        run_episode_with(MugWorld(), agent, MugWorld.task("a"))
        run_episode_with(MugWorld(), agent, MugWorld.task("b"))
        assert listing.model_requests == 1
    warnings = [r.getMessage() for r in caplog.records if "does not list the model" in r.getMessage()]
    assert len(warnings) == 1 and "'test-model'" in warnings[0] and "'Qwen/Qwen2.5-7B-Instruct'" in warnings[0]


@pytest.mark.parametrize("models", [["test-model"], None, b"<html>not json</html>", []])
def test_listed_missing_or_junk_model_lists_say_nothing(models, caplog) -> None:
    with ChatServer(models=models) as listing:
        listing.script(GOOD_PLAN)
        result, _ = run_mug(listing)
    assert result.success and "does not list" not in caplog.text


def test_agents_given_one_resource_scope_share_one_backend(server: ChatServer) -> None:
    with Resources("worker") as scope:
        first, second = make_agent(server, resources=scope), make_agent(server, resources=scope)
        other = make_agent(server, resources=scope, temperature=0.7)
        assert first.client is second.client and other.client is not first.client and len(scope) == 2
        server.script(GOOD_PLAN, GOOD_PLAN)
        assert run_episode_with(MugWorld(), first, MugWorld.task("a")).success  # its own event loop
        first.close()  # a shared backend is not the agent's to close
        assert run_episode_with(MugWorld(), second, MugWorld.task("b")).success  # a fresh loop: the client follows
        assert server.calls == 2


def test_registry_names_only_the_unknown_options_and_lists_the_accepted(server: ChatServer) -> None:
    with pytest.raises(UnknownNameError) as caught:
        registry.make_agent("openai", model="m", base_url=server.base_url, logprobs="true", temprature="0.5")
    message, hint = caught.value.message, caught.value.hint
    assert message == "agent 'openai' does not accept the options 'temprature'"
    assert "logprobs" in hint and "top_logprobs" in hint and "temperature" in hint and "resources" not in hint


def test_registry_accepts_the_new_options(server: ChatServer) -> None:
    agent = registry.make_agent("openai", model="m", base_url=server.base_url, logprobs="true", images="never")
    assert isinstance(agent, OpenAIAgent) and agent.client.extras.logprobs and agent.images == "never"


def test_registry_hands_the_worker_scope_to_the_agent_so_lanes_share_a_backend(server: ChatServer) -> None:
    with Resources("worker") as scope:
        lanes = [registry.make_agent("openai", resources=scope, model="m", base_url=server.base_url) for _ in range(3)]
        assert len({id(agent.client) for agent in lanes}) == 1 and len(scope) == 1
