"""`simyard serve`'s HTTP app: an OpenAI-compatible chat endpoint over one local engine, on Starlette and uvicorn.

    engine = TransformersEngine("/models/Qwen2.5-0.5B-Instruct")
    with BackgroundServer(engine, "qwen") as server:        # 127.0.0.1, a free port, in a thread
        client = openai.OpenAI(base_url=server.base_url, api_key="none")

Routes: `POST /v1/chat/completions` (plain and streamed), `GET /v1/models`, `GET /v1/models/{name}`, `GET /health`.

Every request is answered by the same engine, whose batching thread puts the requests in flight together into each
forward pass: the server adds no queue of its own, so concurrent clients are batched exactly as the episodes of a
worker are. Why Starlette and not FastAPI: the request checks live in `protocol.py` (pydantic, with messages written
for people), so FastAPI's validation layer would only add a dependency and a second error format.

Failures are answers, never crashes: a body that is not JSON, a bad field, an image for a text-only model, a prompt
longer than the context are HTTP 400 with an OpenAI-style error body; a model name the server does not serve is 404
naming the one it does; anything unexpected in one request is HTTP 500 for that request alone, logged, while the
server goes on serving the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HTTPRequest
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from simyard.agents.backends.engine import Engine, Generation
from simyard.platform.errors import BackendError
from simyard.serve.http import ThreadedServer, bind, url_host, uvicorn_server
from simyard.serve.protocol import (
    ChatRequest,
    ProtocolError,
    chunk_body,
    completion_body,
    completion_id,
    error_body,
    model_card,
    models_body,
    parse_chat,
    to_engine_request,
    usage,
)
from simyard.serve.streaming import ChoiceStream

log = logging.getLogger(__name__)

#: Request bodies larger than this are refused (413) before they are read: images arrive inline as data URLs.
MAX_BODY_BYTES = 64 * 2**20


class ChatServer:
    """The routes of one served model.

    Args:
        engine: The loaded model (a `TransformersEngine`, or any `Engine`; streaming token by token needs the
            engine's `decode` and `stream_batches` or `stream`, else a stream carries the whole reply in one chunk).
        name: The model name clients send (`model`) and `/v1/models` lists.
        stream_interval: After a stream's first chunk, tokens per chunk at least (vLLM's `--stream-interval`; the
            end goes at once). 1 sends each pass's tokens as they come.
    """

    def __init__(self, engine: Engine, name: str, stream_interval: int = 1) -> None:
        self.engine = engine
        self.name = name
        self.stream_interval = stream_interval
        self.created = int(time.time())
        self.requests = 0
        self.failures = 0

    def app(self) -> Starlette:
        routes = [
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/models/{name:path}", self.model, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
        ]
        return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})

    # ------------------------------------------------------------------------------------------- routes

    async def models(self, request: HTTPRequest) -> Response:
        facts = self.engine.facts
        return JSONResponse(
            models_body(self.name, context_length=facts.context_length, root=facts.path, created=self.created)
        )

    async def model(self, request: HTTPRequest) -> Response:
        wanted = request.path_params["name"]
        if wanted != self.name:
            return _error(self._unknown_model(wanted))
        facts = self.engine.facts
        return JSONResponse(model_card(self.name, context_length=facts.context_length, root=facts.path,
                                       created=self.created))

    async def health(self, request: HTTPRequest) -> Response:
        return JSONResponse({"status": "ok", "model": self.name})

    async def chat(self, request: HTTPRequest) -> Response:
        self.requests += 1
        try:
            chat = await self._read(request)
            engine_request = to_engine_request(chat, self.engine.facts.context_length)
            if chat.stream:
                return await self._stream(chat, engine_request)
            generations = await _unless_disconnected(request, self.engine.generate(engine_request))
            if generations is None:
                return Response(status_code=499)  # nobody reads it (nginx's code for a client that closed)
            return JSONResponse(completion_body(chat, generations, model=self.name, token_text=self._token_text))
        except ProtocolError as exc:
            self.failures += 1
            return _error(exc)
        except Exception as exc:  # noqa: BLE001 (one request's failure is its own answer; the server goes on)
            self.failures += 1
            return _error(_engine_error(exc))

    # ------------------------------------------------------------------------------------------- reading

    async def _read(self, request: HTTPRequest) -> ChatRequest:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise ProtocolError(
                f"the request body has {int(length):,} bytes; this server takes at most {MAX_BODY_BYTES:,}",
                status=413,
            )
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProtocolError(f"the request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ProtocolError("the request body is JSON nested too deeply to read") from None
        if isinstance(body, dict) and isinstance(body.get("model"), str) and body["model"] != self.name:
            raise self._unknown_model(body["model"])
        return parse_chat(body, takes_images=self.engine.facts.takes_images)

    def _unknown_model(self, wanted: str) -> ProtocolError:
        return ProtocolError(
            f"the model {wanted!r} does not exist on this server; it serves {self.name!r}",
            status=404,
            param="model",
            code="model_not_found",
        )

    # ------------------------------------------------------------------------------------------- streaming

    async def _stream(self, chat: ChatRequest, engine_request: Any) -> Response:
        """A server-sent-event stream; errors found before the first token (a prompt too long, a bad image) are
        still plain HTTP errors, because the first event is awaited before the response starts."""
        decode = getattr(self.engine, "decode", None)
        batches = getattr(self.engine, "stream_batches", None)
        stream = getattr(self.engine, "stream", None)
        if decode is None or (batches is None and stream is None):
            generations = await self.engine.generate(engine_request)
            events: AsyncIterator[list[Any]] = _whole(generations)
        elif batches is not None:
            events = batches(engine_request, self.stream_interval)
        else:
            events = _one_by_one(stream(engine_request))
        first = await anext(events)
        return StreamingResponse(
            self._chunks(chat, first, events, decode or (lambda ids: "")),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _chunks(
        self, chat: ChatRequest, first: list[Any], events: AsyncIterator[list[Any]], decode: Any
    ) -> AsyncIterator[str]:
        """The SSE text of a stream: for each batch of events the engine hands over, one write holding one chunk
        per choice that has something safe to send (see `streaming`)."""
        ident, created = completion_id(), int(time.time())
        stops = [chat.stop] if isinstance(chat.stop, str) else list(chat.stop or [])
        choices = [
            ChoiceStream(i, stops, decode, self._token_text, logprobs=chat.logprobs, token_ids=chat.return_token_ids,
                         interval=self.stream_interval)
            for i in range(chat.n)
        ]

        def send(parts: list[dict[str, Any]], counts: dict[str, int] | None = None) -> str:
            body = chunk_body(ident, created, self.name, parts, counts)
            return f"data: {json.dumps(body, separators=(',', ':'))}\n\n"

        out: list[str] = []  # the SSE events of the batch at hand, written together
        try:
            out.append(send([{"index": c.index, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                              "finish_reason": None} for c in choices]))
            batch = first
            while True:
                touched: dict[int, ChoiceStream] = {}
                end = None
                for event in batch:
                    if event.generations is not None:
                        end = event
                        continue
                    choice = choices[event.index]
                    choice.take(event.token_id, event.logprob, event.top_logprobs, event.finish_reason)
                    touched[choice.index] = choice
                for choice in touched.values():
                    part = choice.release()
                    if part is not None:
                        out.append(send([part]))
                if end is not None:
                    for choice, generation in zip(choices, end.generations, strict=True):
                        out.extend(send([part]) for part in choice.finish(generation))  # one index per chunk
                    if chat.stream_options is not None and chat.stream_options.include_usage:
                        out.append(send([], usage(end.generations)))
                    out.append("data: [DONE]\n\n")
                    yield "".join(out)
                    break
                if out:
                    yield "".join(out)  # one write for the whole batch
                    out = []
                batch = await anext(events)
        except Exception as exc:  # noqa: BLE001 (the status line is sent: the error goes in the stream)
            self.failures += 1
            error = _engine_error(exc)
            yield "".join(out) + f"data: {json.dumps(error.body())}\n\ndata: [DONE]\n\n"  # what was ready, then why
        finally:
            closer = getattr(events, "aclose", None)
            if closer is not None:
                await closer()

    def _token_text(self, token: int) -> str:
        text = getattr(self.engine, "token_text", None)
        return text(token) if text is not None else str(token)


async def _unless_disconnected(request: HTTPRequest, work: Any) -> Any:
    """`await work`, or None once the client has gone (then `work` is cancelled, which cancels the engine's request
    and frees its batch slots): a client that timed out must not keep the model decoding for nobody."""
    task = asyncio.ensure_future(work)

    async def gone() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(gone())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    if task in done:
        return task.result()
    return None


class _End:
    """The last event of a stream made from finished generations (an engine without `stream`)."""

    def __init__(self, generations: list[Generation]) -> None:
        self.generations = generations


async def _whole(generations: list[Generation]) -> AsyncIterator[list[Any]]:
    yield [_End(generations)]


async def _one_by_one(events: AsyncIterator[Any]) -> AsyncIterator[list[Any]]:
    """An engine's `stream` (one event at a time) as batches, for engines without `stream_batches`."""
    try:
        async for event in events:
            yield [event]
    finally:
        closer = getattr(events, "aclose", None)
        if closer is not None:
            await closer()


# ----------------------------------------------------------------------------------------------- errors


def _engine_error(exc: BaseException) -> ProtocolError:
    """The HTTP answer for an exception from the engine: the caller's mistakes are 400, the rest 500 (logged)."""
    from simyard.agents.backends import local

    if isinstance(exc, ProtocolError):
        return exc
    if isinstance(exc, local.PromptTooLongError):
        return ProtocolError(
            f"{exc.message}: shorten the messages (drop the oldest turns)", param="messages",
            code="context_length_exceeded",
        )
    if isinstance(exc, local.ImagesNotSupportedError):
        return ProtocolError(_one_line(exc), param="messages", code="images_not_supported")
    if isinstance(exc, BackendError):
        return ProtocolError(_one_line(exc))
    if isinstance(exc, RuntimeError) and "closed" in str(exc):
        return ProtocolError("the model is shutting down", status=503, kind="service_unavailable")
    log.error("a chat request failed", exc_info=exc)
    return ProtocolError(f"the model failed on this request: {_one_line(exc)}", status=500, kind="internal_error")


def _one_line(exc: BaseException) -> str:
    hint = getattr(exc, "hint", None)
    text = " ".join(str(exc).split()) or type(exc).__name__
    if hint and hint not in text:
        text = f"{text} ({hint})"
    return text


def _error(exc: ProtocolError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _http_error(request: HTTPRequest, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "") or ""
    message = {404: f"no route {request.url.path} (this server has /v1/chat/completions and /v1/models)",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(status, str(detail))
    return JSONResponse(error_body(message, kind="invalid_request_error"), status_code=status)


# ----------------------------------------------------------------------------------------------- running


class BackgroundServer(ThreadedServer):
    """A `ChatServer` on uvicorn in a thread of this process, on loopback and a free port (tests, benchmarks).

    The engine stays the caller's: stopping the server does not close it.
    """

    def __init__(
        self, engine: Engine, name: str, host: str = "127.0.0.1", port: int = 0, stream_interval: int = 1,
    ) -> None:
        self.chat = ChatServer(engine, name, stream_interval)
        self.sock = bind(host, port)
        self.server = uvicorn_server(self.chat.app())
        super().__init__("simyard-serve")

    @property
    def base_url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}/v1"
