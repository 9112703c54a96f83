"""The `openai` agent against a real third-party server: llama-cpp-python's, on a tiny model built for the test.

What the agent records must be what the server sent: the reply, token counts, log-probabilities and finish reason
of every call, one recorded call per request the server answered. A recording proxy between the two keeps the
server's answers, and the server's own access log counts its requests. The first run compiles llama.cpp (minutes,
cached under ~/.cache/simyard); see `llama_cpp_fixture`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simyard.platform.trajectory import read_episode_result, read_trajectory

from . import llama_cpp_fixture
from .llama_cpp_fixture import MODEL_ALIAS, REPLY, Exchange, LlamaServer, RecordingProxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

TOP = 2
#: The seed's lake has the player at its right edge, so `Right` keeps it in place: every step is valid and the
#: episode lasts its step cap.
SEED = 1


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    try:
        with llama_cpp_fixture.serving(tmp_path_factory.mktemp("llama-cpp")) as pair:
            yield pair
    except llama_cpp_fixture.Unavailable as exc:
        pytest.skip(str(exc))


def run_episode(proxy: RecordingProxy, out: Path, max_tokens: int) -> tuple[list[dict[str, Any]], Any, str]:
    """One frozenlake episode through the CLI; its step lines, result and output."""
    options = [f"base_url={proxy.url}/v1", f"model={MODEL_ALIAS}", "images=never", "logprobs=true"]
    options += [f"top_logprobs={TOP}", f"max_tokens={max_tokens}", "max_attempts=1"]
    cmd = [sys.executable, "-m", "simyard", "episode", "run", "frozenlake", "--seed", str(SEED), "--agent", "openai"]
    cmd += [arg for option in options for arg in ("--agent-opt", option)]
    cmd += ["--max-steps", "4", "--max-invalid", "3", "--out", str(out)]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env=os.environ | {"OPENAI_API_KEY": "local"}
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    (episode,) = (out / "episodes").iterdir()
    steps = [line for line in read_trajectory(episode) if line["type"] == "step"]
    return steps, read_episode_result(episode), output


def check_recorded_as_sent(calls: list[dict[str, Any]], exchanges: list[Exchange], max_tokens: int) -> None:
    """Each recorded call holds what the server answered to the request behind it."""
    assert len(calls) == len(exchanges) > 0
    for call, exchange in zip(calls, exchanges, strict=True):
        sent, answer = exchange.request, exchange.response
        assert (sent["model"], sent["logprobs"], sent["top_logprobs"]) == (MODEL_ALIAS, True, TOP)
        assert (sent["max_tokens"], exchange.status) == (max_tokens, 200)
        (choice,) = answer["choices"]
        entries = choice["logprobs"]["content"]
        assert all(len(entry["top_logprobs"]) == TOP for entry in entries), "the server ignored top_logprobs"
        assert call["text"] == choice["message"]["content"]
        assert call["finish_reason"] == choice["finish_reason"]
        assert call["prompt_tokens"] == answer["usage"]["prompt_tokens"] > 0
        assert call["completion_tokens"] == answer["usage"]["completion_tokens"]
        assert call["logprobs"] == [entry["logprob"] for entry in entries]
        assert call["token_ids"] is None  # llama-cpp-python sends no ids, and none are made up
        assert call["retries"] == 0


def test_openai_agent_records_what_llama_cpp_server_sent(
    served: tuple[LlamaServer, RecordingProxy], tmp_path: Path
) -> None:
    server, proxy = served

    # Room to finish: the model answers `<answer>Right</answer>` and stops by itself.
    steps, result, output = run_episode(proxy, tmp_path / "stops", max_tokens=64)
    stopped = proxy.chat_calls()
    calls = [call for step in steps for call in step["calls"]]
    check_recorded_as_sent(calls, stopped, max_tokens=64)
    assert {call["finish_reason"] for call in calls} == {"stop"}
    assert {call["text"] for call in calls} == {"".join(REPLY)}
    assert all(call["completion_tokens"] == len(call["logprobs"]) == len(REPLY) for call in calls)
    assert len({tuple(call["logprobs"]) for call in calls}) > 1  # each prompt moves them: the pairing is tested
    assert [step["action"] for step in steps] == ["Right"] * 4 and result.invalid_actions == 0
    assert (result.status, result.reason, result.model_calls, result.cut_replies) == ("completed", "max_steps", 4, 0)
    assert result.prompt_tokens == sum(e.response["usage"]["prompt_tokens"] for e in stopped)
    assert result.completion_tokens == sum(e.response["usage"]["completion_tokens"] for e in stopped)
    assert "does not list the model" not in output and "reply has none" not in output, output

    # Two tokens allowed: every reply is cut, recorded as "length", and costs an invalid step.
    steps, result, output = run_episode(proxy, tmp_path / "cut", max_tokens=2)
    cut = proxy.chat_calls()[len(stopped) :]
    calls = [call for step in steps for call in step["calls"]]
    check_recorded_as_sent(calls, cut, max_tokens=2)
    assert {call["finish_reason"] for call in calls} == {"length"}
    assert {call["text"] for call in calls} == {"".join(REPLY[:2])}
    assert all(call["completion_tokens"] == len(call["logprobs"]) == 2 for call in calls)
    assert (result.status, result.reason, result.model_calls, result.cut_replies) == ("completed", "invalid_cap", 3, 3)
    assert result.completion_tokens == sum(e.response["usage"]["completion_tokens"] for e in cut)

    # The server itself answered exactly as many chat requests as simyard counted calls.
    assert server.requests("POST", "/v1/chat/completions") == len(stopped) + len(cut) == 4 + 3
