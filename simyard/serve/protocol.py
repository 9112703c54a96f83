"""The wire format of `simyard serve`: OpenAI chat-completion requests in, OpenAI (and vLLM) shaped bodies out.

Requests are read here, never trusted: a body is checked field by field (pydantic, strict about unknown fields) and
turned into the engine's `Request`, or refused with a `ProtocolError` that the app answers as an OpenAI-style error
body (`{"error": {"message", "type", "param", "code"}}`), so a client sees one clear line instead of a traceback.

Why unknown fields are refused rather than ignored: a parameter the server silently drops (`frequency_penalty`,
`tools`, `response_format`) changes what a researcher thinks was sampled; OpenAI refuses such requests too. Fields
that clients send by default with their neutral values (`frequency_penalty: 0`, `user`, `tool_choice: "none"`, vLLM's
`skip_special_tokens: true`, ...) are accepted and have no effect.

Replies follow OpenAI's chat-completion shape, with vLLM's additions where vLLM puts them: the sampled ids of each
choice in `choices[i].token_ids` (asked for with `return_token_ids: true`), and in each streamed chunk's choice the
ids of that chunk, so clients written for vLLM read simyard's server unchanged (simyard's own `openai` agent reads
`choices[0].token_ids`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simyard.agents.backends.engine import Generation, Request, SamplingOptions

#: OpenAI caps `top_logprobs` at 20; so does vLLM by default (`--max-logprobs`).
MAX_TOP_LOGPROBS = 20


class ProtocolError(Exception):
    """A request the server refuses: an HTTP status and an OpenAI-style error body."""

    def __init__(
        self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.param, self.code, self.kind = message, status, param, code, kind

    def body(self) -> dict[str, Any]:
        return error_body(self.message, kind=self.kind, param=self.param, code=self.code)


def error_body(message: str, *, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """The error object OpenAI's API answers with (the official client raises it as `BadRequestError` & co.)."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# ----------------------------------------------------------------------------------------------- the request


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageURL(_Strict):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ImagePart(_Strict):
    type: Literal["image_url"]
    image_url: ImageURL


Part = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class Message(_Strict):
    # `developer` is what recent OpenAI clients send instead of `system`; it is served as `system`.
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[Part] | None = None
    name: str | None = None


class StreamOptions(_Strict):
    include_usage: bool = False
    continuous_usage_stats: bool = False  # vLLM's; accepted, usage is sent once at the end


class ChatRequest(_Strict):
    """The chat-completion fields this server implements, with OpenAI's names and defaults."""

    messages: list[Message] = Field(min_length=1)
    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    return_token_ids: bool = False  # vLLM's name: the sampled ids in choices[i].token_ids

    # Accepted with the values that change nothing (clients send some of them by default).
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    parallel_tool_calls: bool | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None
    top_k: int | None = None
    min_p: float | None = None
    skip_special_tokens: bool | None = None
    include_stop_str_in_output: bool | None = None

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if any(not stop for stop in stops):
            raise ValueError("stop strings must be non-empty")
        return value


#: (field, the values that leave sampling as this server does it) for the fields accepted but not implemented.
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "frequency_penalty": (None, 0, 0.0),
    "presence_penalty": (None, 0, 0.0),
    "repetition_penalty": (None, 1, 1.0),
    "top_k": (None, 0, -1),
    "min_p": (None, 0, 0.0),
    "skip_special_tokens": (None, True),
    "include_stop_str_in_output": (None, False),
    "tool_choice": (None, "none", "auto"),
}


def parse_chat(body: Any, *, takes_images: bool = True) -> ChatRequest:
    """The checked request in a decoded JSON body, or `ProtocolError(400)` saying what is wrong with it.

    Args:
        body: The decoded JSON body.
        takes_images: Whether the served model has a vision tower; an image sent to a text-only model is refused
            here, before any work.
    """
    if not isinstance(body, dict):
        raise ProtocolError(f"the request body must be a JSON object, not a JSON {_json_kind(body)}")
    if "messages" not in body:
        raise ProtocolError("'messages' is required: a list of {role, content} objects", param="messages")
    try:
        request = ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise ProtocolError(_validation_message(exc), param=_first_param(exc)) from None
    for name, neutral in _NEUTRAL.items():
        value = getattr(request, name)
        if value not in neutral:
            raise ProtocolError(
                f"'{name}'={value!r} is not supported by this server (it samples with temperature, top_p, seed and "
                f"stop only); leave it out or send {neutral[1]!r}",
                param=name,
            )
    if request.logit_bias:
        raise ProtocolError("'logit_bias' is not supported by this server; leave it out", param="logit_bias")
    if request.tools:
        raise ProtocolError("'tools' (function calling) is not supported by this server", param="tools")
    if request.response_format and request.response_format.get("type", "text") != "text":
        raise ProtocolError(
            f"'response_format' {request.response_format.get('type')!r} is not supported by this server "
            "(only {'type': 'text'})",
            param="response_format",
        )
    if request.top_logprobs and not request.logprobs:
        raise ProtocolError("'top_logprobs' needs 'logprobs': true", param="top_logprobs")
    if not takes_images and any(
        isinstance(m.content, list) and any(p.type == "image_url" for p in m.content) for m in request.messages
    ):
        raise ProtocolError(
            "the served model takes text only, and the request holds an image content part; send text only",
            param="messages",
            code="images_not_supported",
        )
    for number, message in enumerate(request.messages):
        for index, part in enumerate(message.content if isinstance(message.content, list) else []):
            if part.type == "image_url" and not part.image_url.url.startswith("data:"):
                # The engine also reads local paths, for the in-process agent; over HTTP that would let any client
                # make the server open files on its own disk.
                raise ProtocolError(
                    f"an image URL must be a data URL (data:image/png;base64,...), got {_short(part.image_url.url)}:"
                    " this server fetches nothing over the network and reads no files",
                    param=f"messages[{number}].content[{index}].image_url.url",
                )
    return request


def to_engine_request(chat: ChatRequest, context_length: int) -> Request:
    """The engine's `Request` for a checked chat request (messages as plain dicts, sampling options)."""
    messages = []
    for message in chat.messages:
        role = "system" if message.role == "developer" else message.role
        content: Any = message.content
        if isinstance(content, list):
            content = [part.model_dump(exclude_none=True) for part in content]
        messages.append({"role": role, "content": "" if content is None else content})
    limit = chat.max_completion_tokens or chat.max_tokens or max(context_length, 1)
    stops = [chat.stop] if isinstance(chat.stop, str) else list(chat.stop or [])
    options = SamplingOptions(
        max_tokens=limit,
        temperature=chat.temperature,
        top_p=chat.top_p,
        stop=tuple(stops),
        seed=chat.seed,
        n=chat.n,
        logprobs=chat.logprobs,
        top_logprobs=chat.top_logprobs or 0,
    )
    return Request(messages=messages, options=options)


# ----------------------------------------------------------------------------------------------- the reply


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def logprob_entries(
    token_ids: Sequence[int], logprobs: Sequence[float], tops: Sequence[dict[str, float]] | None, token_text: Any,
) -> list[dict[str, Any]]:
    """OpenAI's `logprobs.content` entries for sampled tokens (text, log-probability, bytes, alternatives)."""
    entries = []
    for position, (token, value) in enumerate(zip(token_ids, logprobs, strict=True)):
        alternatives = tops[position] if tops is not None and position < len(tops) else {}
        entries.append(
            {
                "token": (text := token_text(token)),
                "logprob": value,
                "bytes": _bytes(text),
                "top_logprobs": [
                    {"token": name, "logprob": score, "bytes": _bytes(name)} for name, score in alternatives.items()
                ],
            }
        )
    return entries


def completion_body(
    chat: ChatRequest, generations: Sequence[Generation], *, model: str, token_text: Any,
) -> dict[str, Any]:
    """The chat-completion body for finished generations (one choice each)."""
    choices = []
    for index, generation in enumerate(generations):
        choice: dict[str, Any] = {
            "index": index,
            "message": {"role": "assistant", "content": generation.text},
            "logprobs": None,
            "finish_reason": generation.finish_reason,
        }
        if chat.logprobs:
            choice["logprobs"] = {
                "content": logprob_entries(
                    generation.token_ids, generation.logprobs, generation.top_logprobs, token_text
                )
            }
        if chat.return_token_ids:
            choice["token_ids"] = list(generation.token_ids)
        choices.append(choice)
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage(generations),
    }


def usage(generations: Sequence[Generation]) -> dict[str, int]:
    prompt = generations[0].prompt_tokens if generations else 0
    completion = sum(generation.completion_tokens for generation in generations)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chunk_body(
    ident: str, created: int, model: str, choices: list[dict[str, Any]], usage_counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One streamed `chat.completion.chunk`."""
    body: dict[str, Any] = {
        "id": ident, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices,
    }
    if usage_counts is not None:
        body["usage"] = usage_counts
    return body


def models_body(name: str, *, context_length: int, root: str, created: int) -> dict[str, Any]:
    """`GET /v1/models`: the one served model (with vLLM's `max_model_len` and `root`)."""
    return {"object": "list", "data": [model_card(name, context_length=context_length, root=root, created=created)]}


def model_card(name: str, *, context_length: int, root: str, created: int) -> dict[str, Any]:
    return {
        "id": name, "object": "model", "created": created, "owned_by": "simyard", "root": root,
        "max_model_len": context_length,
    }


# ----------------------------------------------------------------------------------------------- helpers


def _bytes(text: str) -> list[int] | None:
    """The UTF-8 bytes of a token's text; None when the text holds a replacement character (a token that is part
    of a multi-byte character decodes to U+FFFD, whose bytes would be wrong)."""
    return None if "\ufffd" in text else list(text.encode("utf-8"))


def _validation_message(exc: ValidationError) -> str:
    problems: list[str] = []
    for error in _useful_errors(exc.errors()):
        where = _location(error["loc"])
        if error["type"] == "extra_forbidden":
            problem = f"'{where}' is not a field this server takes"
        elif error["type"] == "missing":
            problem = f"'{where}' is required"
        elif error["type"] == "content_kind":
            problem = f"'{where}' must be a string or a list of content parts (text or image_url), got " + _short(
                error.get("input")
            )
        else:
            problem = f"'{where}': {error['msg']} (got {_short(error.get('input'))})"
        if problem not in problems:
            problems.append(problem)
    shown = problems[:5]
    more = len(problems) - len(shown)
    return "invalid request: " + "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _useful_errors(errors: list[Any]) -> list[Any]:
    """Pydantic's errors without the noise of the `content` union: a list content reports only its parts' errors,
    and content that is neither a string nor a list one error saying so."""
    out = []
    for error in errors:
        loc = tuple(error["loc"])
        if "content" in loc and len(loc) > loc.index("content") + 1:
            branch = loc[loc.index("content") + 1]
            value = error.get("input")
            if branch == "str":
                if isinstance(value, list):
                    continue  # the list branch says what is wrong with the parts
                error = {**error, "type": "content_kind", "loc": loc[: loc.index("content") + 1]}
            elif str(branch).startswith("list[") and len(loc) == loc.index("content") + 2:
                continue  # "should be a valid list": said once by the str branch
        out.append(error)
    return out


def _first_param(exc: ValidationError) -> str | None:
    errors = _useful_errors(exc.errors())
    return _location(errors[0]["loc"]) if errors else None


def _location(loc: Sequence[Any]) -> str:
    """A pydantic location as a path (`messages[0].content[1].image_url`), without the union branch and tag names
    pydantic adds."""
    path = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "str" or "[" in str(part) or (isinstance(previous, int) and path.split(".")[-1].startswith(
            "content[") and part in ("text", "image_url")):
            pass
        else:
            path += f".{part}" if path else str(part)
        previous = part
    return path


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )
