"""A chat client for any OpenAI-compatible endpoint (OpenAI, vLLM, lmdeploy, llama.cpp), with our own retries.

It wraps the official `openai.AsyncOpenAI` client and keeps three promises the agent loop relies on:

* Retries are ours and counted: the openai client's own retries are off (`max_retries=0`), and 429, 5xx, timeouts and
  connection errors are retried here with exponential backoff and bounded jitter, up to `max_attempts` attempts. The
  `ModelCall` says how many attempts failed; its latency includes them.
* Failure is one clear error: when the attempts run out, or the server refuses the request for good (401, 404,
  400), `BackendError` says what happened in one line and what to check.
* The client follows the event loop: `httpx` connection pools belong to the loop that opened them, and the sync
  runner starts a fresh loop per episode, so a client is made per loop and closed when that loop shuts down.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import openai
from PIL import Image

from simyard.agents.formats.base import Prompt
from simyard.platform.api import ModelCall
from simyard.platform.errors import BackendError, SimyardError

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Statuses worth another attempt: timeouts, conflicts, rate limits and server-side failures. Anything else (a bad
# key, an unknown model, a malformed request) fails the same way every time, so it fails at once.
_RETRY_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """How to call the model and how hard to try.

    Attributes:
        temperature: Sampling temperature (EmbodiedBench evaluates at 0).
        max_tokens: Completion token cap; None leaves it to the server.
        timeout_s: Limit on one attempt, connection to last byte.
        max_attempts: Attempts per call, the first included; 1 means no retry.
        backoff_s: Delay before the first retry; it doubles each retry, with jitter in [50 %, 100 %].
        max_backoff_s: Cap on one delay (also on a server's Retry-After).
    """

    temperature: float = 0.0
    max_tokens: int | None = 2048
    timeout_s: float = 120.0
    max_attempts: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        problems = [
            f"{name}={value!r} must be {rule}"
            for name, value, ok, rule in [
                ("temperature", self.temperature, self.temperature >= 0, ">= 0"),
                ("max_tokens", self.max_tokens, self.max_tokens is None or self.max_tokens >= 1, ">= 1 or none"),
                ("timeout_s", self.timeout_s, self.timeout_s > 0, "> 0"),
                ("max_attempts", self.max_attempts, self.max_attempts >= 1, ">= 1"),
                ("backoff_s", self.backoff_s, self.backoff_s >= 0, ">= 0"),
                ("max_backoff_s", self.max_backoff_s, self.max_backoff_s >= 0, ">= 0"),
            ]
            if not ok
        ]
        if problems:
            raise SimyardError(f"bad model options: {'; '.join(problems)}", hint="fix them in --agent-opt key=value")


class OpenAICompatClient:
    """Sends a `Prompt` to a chat-completions endpoint and answers a `ModelCall`.

    Args:
        model: Model name as the server knows it.
        base_url: Endpoint root (`http://localhost:8000/v1` for vLLM); None for the OpenAI API.
        api_key_env: Environment variable holding the key. Servers that check no key still need a non-empty value,
            because the openai client refuses to start without one.
        options: Sampling, timeout and retry settings.
        seed: Seeds the retry jitter; None draws it from the system, so many clients do not retry in lockstep.

    Raises:
        BackendError: The key variable is unset or empty.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        options: ChatOptions = ChatOptions(),
        seed: int | None = None,
    ) -> None:
        api_key = os.environ.get(api_key_env, "").strip()
        if not api_key:
            raise BackendError(
                f"no API key: the environment variable {api_key_env} is not set",
                hint=f"export {api_key_env}=<key> (any non-empty value for a local server that checks none), "
                "or name another variable with --agent-opt api_key_env=NAME",
            )
        self.model = model
        self.base_url = base_url or DEFAULT_BASE_URL
        self.api_key_env = api_key_env
        self.options = options
        self._api_key = api_key
        self._rng = random.Random(seed)
        self._openai: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Made now, bound to the first loop that uses it: building one loads the CA store (~20 ms), which belongs
        # in agent construction, not in the first episode's latency.
        self._unbound: openai.AsyncOpenAI | None = self._new_client()
        self._guard: AsyncIterator[None] | None = None
        self._closing: set[asyncio.Task[Any]] = set()

    async def chat(self, prompt: Prompt) -> ModelCall:
        """One completion for `prompt`, retried on transient failures.

        Returns:
            The reply text with token usage, latency (retries and backoff included) and the number of failed attempts.

        Raises:
            BackendError: The server refused the request for good, or every attempt failed.
        """
        loop = asyncio.get_running_loop()
        # PNG encoding of large frames is CPU work; keep it off the loop that serves the other episodes.
        messages = await asyncio.to_thread(to_messages, prompt) if prompt.images else to_messages(prompt)
        started = loop.time()
        failures = 0
        while True:
            try:
                response = await self._create(messages)
                break
            except Exception as exc:
                verdict = _classify(exc, self.options.timeout_s)
                if verdict is None:
                    raise  # not a model-server failure: a bug, keep its traceback
                retryable, why = verdict
                failures += 1
                if not retryable:
                    raise BackendError(f"model call to {self.base_url} failed: {why}", hint=self._hint(exc)) from exc
                if failures >= self.options.max_attempts:
                    raise BackendError(
                        f"model call to {self.base_url} failed after {failures} attempts: {why}",
                        hint="check the server is up and answering; raise --agent-opt max_attempts=N or timeout_s=S",
                    ) from exc
                await asyncio.sleep(self._delay_s(failures, exc))
        usage = response.usage
        text = (response.choices[0].message.content or "") if response.choices else ""
        return ModelCall(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            latency_s=loop.time() - started,
            retries=failures,
        )

    async def _create(self, messages: list[dict[str, Any]]) -> Any:
        client = await self._client()
        extra: dict[str, Any] = {}
        if self.options.max_tokens is not None:
            extra["max_tokens"] = self.options.max_tokens
        # httpx's timeout bounds each read; this bounds the whole attempt, so a server that trickles bytes still ends.
        async with asyncio.timeout(self.options.timeout_s):
            return await client.chat.completions.create(
                model=self.model, messages=messages, temperature=self.options.temperature, **extra
            )

    async def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        if self._openai is None or self._loop is not loop:
            self._openai, self._unbound = self._unbound or self._new_client(), None
            self._loop = loop
            self._guard = _close_at_loop_shutdown(self._openai)
            await anext(self._guard)
        return self._openai

    def _new_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self._api_key, base_url=self.base_url, timeout=self.options.timeout_s, max_retries=0
        )

    def _delay_s(self, failures: int, exc: Exception) -> float:
        base = min(self.options.max_backoff_s, self.options.backoff_s * 2 ** (failures - 1))
        delay = base * (0.5 + 0.5 * self._rng.random())
        retry_after = _retry_after_s(exc)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.options.max_backoff_s))
        return delay

    def _hint(self, exc: Exception) -> str:
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            return f"check that {self.api_key_env} holds a key the server at {self.base_url} accepts"
        if status == 404:
            return f"check the model name {self.model!r} and the base_url {self.base_url}"
        return "the server rejected the request; check the model accepts images and the max_tokens/temperature options"

    async def aclose(self) -> None:
        """Close the connection pool (call from inside the loop that used it)."""
        guard, loop = self._guard, self._loop
        self._openai = self._guard = self._loop = None
        if guard is not None and loop is asyncio.get_running_loop():
            await guard.aclose()

    def close(self) -> None:
        """Close the connection pool from sync code, whatever state its event loop is in."""
        guard, loop = self._guard, self._loop
        self._openai = self._guard = self._loop = None
        if guard is None or loop is None or loop.is_closed():
            return  # a closed loop already closed the client at its shutdown
        if loop.is_running():
            task = loop.create_task(guard.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        else:
            loop.run_until_complete(guard.aclose())


async def _close_at_loop_shutdown(client: openai.AsyncOpenAI) -> AsyncIterator[None]:
    """Closes `client` when its loop shuts down.

    `asyncio.run` finalises every live async generator before it closes the loop; parking one here is the only
    hook it offers, and it lets the sync runner's one-loop-per-episode close each pool where it was opened.
    """
    try:
        yield
    finally:
        await client.close()


def _classify(exc: Exception, timeout_s: float) -> tuple[bool, str] | None:
    """(retry?, one-line reason) for a failed attempt, or None when it is no server failure."""
    if isinstance(exc, (openai.APITimeoutError, TimeoutError)):
        return True, f"timed out after {timeout_s:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return True, f"connection failed: {_one_line(exc)}"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return status in _RETRY_STATUSES or status >= 500, f"HTTP {status}: {_one_line(exc)}"
    return None


def _retry_after_s(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from model servers; our own backoff applies


def _one_line(exc: Exception, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def png_data_url(image: np.ndarray) -> str:
    """An HxWx3 uint8 frame as a `data:image/png;base64,...` URL, the form chat APIs accept inline."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def to_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """Chat-completions messages for `prompt`: the system text, then the user text with each image labelled."""
    content: str | list[dict[str, Any]] = prompt.user
    if prompt.images:
        parts: list[dict[str, Any]] = [{"type": "text", "text": prompt.user}]
        for name, image in prompt.images.items():
            parts.append({"type": "text", "text": f"Image {name!r}:"})
            parts.append({"type": "image_url", "image_url": {"url": png_data_url(image)}})
        content = parts
    messages: list[dict[str, Any]] = [{"role": "system", "content": prompt.system}] if prompt.system else []
    messages.append({"role": "user", "content": content})
    return messages
