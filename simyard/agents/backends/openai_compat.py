"""A chat client for any OpenAI-compatible endpoint (OpenAI, vLLM, lmdeploy, llama.cpp), with our own retries.

It wraps the official `openai.AsyncOpenAI` client and keeps three promises the agent loop relies on:

* Retries are ours and counted: the openai client's own retries are off (`max_retries=0`), and 429, 5xx, timeouts and
  connection errors are retried here with exponential backoff and bounded jitter, up to `max_attempts` attempts. The
  `ModelCall` says how many attempts failed; its latency includes them.
* Failure is one clear error: when the attempts run out, or the server refuses the request for good (401, 404,
  400), `BackendError` says what happened in one line and what to check. A server that stays unavailable raises
  `BackendUnavailableError`, which is also an `InfraError` (the runner retries such episodes). A server that
  refuses image content parts (a text-only model) fails at once with a hint to send text only.
* Whatever the server sends back is data: the body is read and checked here (not by the client's models), so a body
  that is not JSON, not UTF-8, nested too deeply, or a completion with string token counts, no `usage` or no
  `choices` gives a recorded call or a one-line error, never a stray TypeError.
* The client follows the event loop: `httpx` connection pools belong to the loop that opened them, and the sync
  runner starts a fresh loop per episode, so a client is made per loop and closed when that loop shuts down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import openai

from simyard.agents.formats.base import Prompt
from simyard.platform import adaptive
from simyard.platform.api import ModelCall
from simyard.platform.errors import BackendError, InfraError, SimyardError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Statuses worth another attempt: timeouts, conflicts, rate limits and server-side failures. Anything else (a bad
# key, an unknown model, a malformed request) fails the same way every time, so it fails at once.
_RETRY_STATUSES = frozenset({408, 409, 429})
# What servers say when they cannot take image content parts: vLLM with a string-only chat template ('can only
# concatenate str (not "list") to str'), vLLM serving a text-only model ("... is not a multimodal model"), llama.cpp's
# server without --mmproj ("image input is not supported"), older llama.cpp ('Unsupported content part type'),
# pydantic-validated servers ("Input should be a valid string" at `content`).
_IMAGE_REFUSAL = re.compile(
    r"""not ["']?list|multi-?modal|image|vision|mmproj|content part|valid string|content.{0,40}(list|array)""",
    re.IGNORECASE,
)
_IMAGE_REFUSAL_STATUSES = frozenset({400, 415, 422, 500, 501})
#: Seconds the `/models` check may take before it is given up (it only ever warns).
_MODELS_CHECK_S = 10.0


class BackendUnavailableError(BackendError, InfraError):
    """The model server stayed unreachable, overloaded or failing through every attempt: infrastructure, not agent."""


class MalformedResponse(Exception):
    """The server answered 2xx with a body that is no chat completion (an HTML page, invalid UTF-8, ...)."""


@dataclass(frozen=True, slots=True)
class RequestExtras:
    """What else to ask the server for, besides the reply text.

    Attributes:
        logprobs: Ask for the sampled tokens' log-probabilities.
        top_logprobs: Also the N most likely alternatives at each position (implies `logprobs`).
        token_ids: Ask for the sampled token ids (vLLM's `return_token_ids`, sent in the request body).
    """

    logprobs: bool = False
    top_logprobs: int | None = None
    token_ids: bool = False


@dataclass(frozen=True, slots=True)
class Completion:
    """One answered call: the `ModelCall` to record, and what the reply lacked.

    Attributes:
        call: The reply with everything the server told about it.
        problem: Set when the server's reply held no answer at all (no `choices`): why, for the agent to charge.
    """

    call: ModelCall
    problem: str | None = None


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
        extras: Log-probabilities and token ids to ask for.

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
        extras: RequestExtras = RequestExtras(),
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
        self.extras = extras
        self._api_key = api_key
        self._models_checked = False
        self._warned: set[str] = set()
        self._rng = random.Random(seed)
        self._openai: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Made now, bound to the first loop that uses it: building one loads the CA store (~20 ms), which belongs
        # in agent construction, not in the first episode's latency.
        self._unbound: openai.AsyncOpenAI | None = self._new_client()
        self._guard: AsyncIterator[None] | None = None
        self._closing: set[asyncio.Task[Any]] = set()

    async def chat(self, prompt: Prompt) -> ModelCall:
        """One completion for `prompt`, retried on transient failures (see `complete`); the call only."""
        return (await self.complete(prompt)).call

    async def complete(self, prompt: Prompt) -> Completion:
        """One completion for `prompt`, retried on transient failures.

        Returns:
            The call (reply text, finish reason, token usage, log-probabilities and token ids when asked for and
            given, latency with retries and backoff, failed attempts), and the problem when the reply held no
            answer at all.

        Raises:
            BackendError: The server refused the request for good (a bad key, an unknown model, image parts a
                text-only model cannot take), or kept answering with something that is no chat completion.
            BackendUnavailableError: Every attempt failed on timeouts, lost connections, 429 or 5xx.
        """
        loop = asyncio.get_running_loop()
        if not self._models_checked:
            self._models_checked = True
            await self._check_model()
        # PNG encoding of large frames is CPU work; keep it off the loop that serves the other episodes.
        messages = await asyncio.to_thread(to_messages, prompt) if prompt.images else to_messages(prompt)
        started = loop.time()
        failures = 0
        while True:
            attempt_started = loop.time()
            try:
                raw = await self._create(messages)
                body = _read_body(raw.content, raw.headers.get("content-type", ""))
                adaptive.note_model_call(loop.time() - attempt_started)  # `--concurrency auto` follows the server
                break
            except MalformedResponse as exc:
                failures += 1
                if failures >= self.options.max_attempts:
                    raise BackendError(
                        f"model call to {self.base_url} failed after {failures} attempts: the server answered with "
                        f"{exc}, not a chat completion",
                        hint=f"check that {self.base_url} is an OpenAI-compatible endpoint (its root usually ends "
                        "in /v1) and that nothing between (a proxy, a login page) rewrites its answers",
                    ) from None
                await asyncio.sleep(self._delay_s(failures, exc))
            except Exception as exc:
                if prompt.images and (refusal := _image_refusal(exc)):
                    raise BackendError(
                        f"the server at {self.base_url} does not take image content parts for model {self.model!r}: "
                        f"{refusal}",
                        hint="the model (or its chat template) is text-only: pass --agent-opt images=never to send "
                        "the observation as text only; docs/servers.md lists what each server needs",
                    ) from None
                verdict = _classify(exc, self.options.timeout_s)
                if verdict is None:
                    raise  # not a model-server failure: a bug, keep its traceback
                retryable, why = verdict
                failures += 1
                if isinstance(exc, openai.APIStatusError) and exc.status_code == 429:
                    adaptive.note_throttled()
                if not retryable:
                    raise BackendError(f"model call to {self.base_url} failed: {why}", hint=self._hint(exc)) from exc
                if failures >= self.options.max_attempts:
                    raise BackendUnavailableError(
                        f"model call to {self.base_url} failed after {failures} attempts: {why}",
                        hint="check the server is up and answering; raise --agent-opt max_attempts=N or timeout_s=S",
                    ) from exc
                await asyncio.sleep(self._delay_s(failures, exc))
        return self._completion(body, latency_s=loop.time() - started, retries=failures)

    def _completion(self, body: dict[str, Any], latency_s: float, retries: int) -> Completion:
        """The `ModelCall` in a completion body, read liberally: what is missing or malformed is left None."""
        choices = body.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        problem = None
        if choice is None:
            error = body.get("error")
            error = error.get("message", error) if isinstance(error, dict) else error
            problem = "the model server sent no reply (its response held no choices)" + (
                f": it said {_short(error)}" if error else ""
            )
            choice = {}
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        prompt_tokens = _count(usage.get("prompt_tokens"))
        completion_tokens = _count(usage.get("completion_tokens"))
        for name, value, counted in [
            ("prompt_tokens", usage.get("prompt_tokens"), prompt_tokens),
            ("completion_tokens", usage.get("completion_tokens"), completion_tokens),
        ]:
            if value is not None and counted is None:
                self._warn_once(name, f"usage.{name} is {_short(value)}, not a token count; recorded as unknown")
        logprobs, token_ids = None, None
        if self.extras.logprobs or self.extras.top_logprobs is not None or self.extras.token_ids:
            logprobs, token_ids = _sampled_tokens(choice)
            if logprobs is None and (self.extras.logprobs or self.extras.top_logprobs is not None):
                self._warn_once("logprobs", "logprobs were asked for but the reply has none; they stay unrecorded")
            if token_ids is None and self.extras.token_ids:
                self._warn_once("token_ids", "token ids were asked for but the reply has none; they stay unrecorded")
        finish_reason = choice.get("finish_reason")
        call = ModelCall(
            text=_text(message.get("content")),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency_s,
            token_ids=token_ids,
            logprobs=logprobs,
            retries=retries,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        )
        return Completion(call, problem)

    def _warn_once(self, key: str, what: str) -> None:
        """One warning per client and kind of gap: a server that always omits something says so once, not per call."""
        if key not in self._warned:
            self._warned.add(key)
            log.warning("model server %s (model %r): %s", self.base_url, self.model, what)

    async def _check_model(self) -> None:
        """Warn once when the server lists its models and `self.model` is not among them; say nothing otherwise."""
        try:
            client = await self._client()
            async with asyncio.timeout(min(self.options.timeout_s, _MODELS_CHECK_S)):
                raw = await client.models.with_raw_response.list()
            listed = json.loads(raw.content)
            names = [m["id"] for m in listed["data"] if isinstance(m, dict) and isinstance(m.get("id"), str)]
        except Exception:  # noqa: BLE001 (no list, an error page, not JSON: the check is a courtesy, skip it)
            return
        if names and self.model not in names:
            more = f" and {len(names) - 20} more" if len(names) > 20 else ""
            shown = ", ".join(repr(name) for name in names[:20]) + more
            log.warning(
                "model server %s does not list the model %r; it lists %s (pass --agent-opt model=NAME)",
                self.base_url,
                self.model,
                shown,
            )

    async def _create(self, messages: list[dict[str, Any]]) -> Any:
        client = await self._client()
        extra: dict[str, Any] = {}
        if self.options.max_tokens is not None:
            extra["max_tokens"] = self.options.max_tokens
        if self.extras.logprobs or self.extras.top_logprobs is not None:
            extra["logprobs"] = True
        if self.extras.top_logprobs is not None:
            extra["top_logprobs"] = self.extras.top_logprobs
        if self.extras.token_ids:
            extra["extra_body"] = {"return_token_ids": True}
        # httpx's timeout bounds each read; this bounds the whole attempt, so a server that trickles bytes still ends.
        # The raw response: the body is checked by `_read_body`, not parsed into the client's models on trust.
        async with asyncio.timeout(self.options.timeout_s):
            return await client.chat.completions.with_raw_response.create(
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


def _image_refusal(exc: Exception) -> str | None:
    """The server's message when `exc` is a refusal of image content parts, else None."""
    if not isinstance(exc, openai.APIStatusError) or exc.status_code not in _IMAGE_REFUSAL_STATUSES:
        return None
    text = f"{exc.message} {exc.body if isinstance(exc.body, (str, dict)) else ''}"
    return f"HTTP {exc.status_code}: {_one_line(exc)}" if _IMAGE_REFUSAL.search(text) else None


def _read_body(content: bytes, content_type: str) -> dict[str, Any]:
    """A response body as a JSON object, or `MalformedResponse` saying what it was instead."""
    kind = content_type.split(";")[0].strip() or "no content type"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedResponse(f"a body that is not valid UTF-8 ({kind}, byte {exc.start})") from None
    try:
        body = json.loads(text)
    except RecursionError:
        raise MalformedResponse(f"JSON nested too deeply to read ({len(content):,} bytes)") from None
    except ValueError:
        raise MalformedResponse(f"a {kind} body that is not JSON: {_short(text)}") from None
    if not isinstance(body, dict):
        raise MalformedResponse(f"a JSON {type(body).__name__} ({_short(text)})")
    return body


def _count(value: Any) -> int | None:
    """A token count as servers send it (an int, 12.0, "12"), or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value >= 0 else None


def _text(content: Any) -> str:
    """The message text: a string, or the text parts of a content list (as some servers answer)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


_TOKEN_AS_ID = re.compile(r"token_id:(\d+)")


def _sampled_tokens(choice: dict[str, Any]) -> tuple[list[float] | None, list[int] | None]:
    """(log-probabilities, token ids) of the sampled tokens, each None unless given for every token.

    Servers differ: OpenAI gives `logprobs.content[i].logprob`; vLLM adds `choices[0].token_ids` when asked with
    `return_token_ids`, writes tokens as `token_id:123` under `--return-tokens-as-token-ids`, and some servers put
    a `token_id` or `id` in each entry. All are read.
    """
    entries = choice.get("logprobs")
    entries = entries.get("content") if isinstance(entries, dict) else None
    entries = entries if isinstance(entries, list) and all(isinstance(e, dict) for e in entries) else None
    logprobs = None
    if entries is not None:
        values = [e.get("logprob") for e in entries]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v) for v in values):
            logprobs = [float(v) for v in values]
    token_ids = _int_list(choice.get("token_ids"))
    if token_ids is None and entries:
        for read in (
            lambda e: e.get("token_id"),
            lambda e: e.get("id"),
            _id_in_token,
        ):
            token_ids = _int_list([read(e) for e in entries])
            if token_ids is not None:
                break
    if logprobs is not None and token_ids is not None and len(logprobs) != len(token_ids):
        token_ids = None  # ids that do not line up with the log-probabilities would mislead a trainer
    return logprobs, token_ids


def _id_in_token(entry: dict[str, Any]) -> int | None:
    match = _TOKEN_AS_ID.fullmatch(entry["token"]) if isinstance(entry.get("token"), str) else None
    return int(match.group(1)) if match else None


def _int_list(value: Any) -> list[int] | None:
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    return None


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def png_data_url(image: np.ndarray) -> str:
    """An HxWx3 uint8 frame as a `data:image/png;base64,...` URL, the form chat APIs accept inline.

    The frames module encodes each frame once: the recorder writing the same frame reuses these bytes.
    """
    from simyard.platform.frames import data_url

    return data_url(image)


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
