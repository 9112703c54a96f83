"""`simyard env serve`'s app: any simyard world behind Meta OpenEnv's HTTP and WebSocket protocol, on Starlette.

    server = EnvServer("sokoban", {"tile_px": 32}, max_sessions=8, idle_timeout_s=300)
    with BackgroundEnvServer(server) as running:        # 127.0.0.1, a free port, uvicorn in a thread
        client = GenericEnvClient(base_url=running.base_url)   # openenv-core's own client, unchanged

Endpoints are OpenEnv's: POST /reset, POST /step, GET /state, /schema, /health, /metadata, and the WebSocket /ws
(one session, so one world, per connection). OpenEnv builds a fresh environment for every HTTP request; here HTTP
calls share a session named by the `X-Session-Id` header (one default session without it), so an episode can be
played over plain HTTP too. Why Starlette rather than OpenEnv's own FastAPI server: the world behind it is a
simyard `Env` (a task and a seed at reset, an ActionSpec rather than a pydantic Action class), the server needs
idle reaping and a busy answer that OpenEnv 0.3 does not give, and openenv-core stays a test-only dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from simyard._version import __version__
from simyard.envserve import codec
from simyard.envserve.sessions import Busy, CallTimeout, Session, SessionClosed, SessionPool
from simyard.platform.api import ActionSpec
from simyard.platform.errors import SimyardError
from simyard.platform.frames import data_url
from simyard.serve import http
from simyard.serve.http import listen_on, url_host

log = logging.getLogger("simyard.envserve")

#: The HTTP header naming an HTTP session (simyard's addition: OpenEnv's HTTP endpoints keep no state).
SESSION_HEADER = "X-Session-Id"
DEFAULT_HTTP_SESSION = "http-default"
#: How long a refused WebSocket stays open for the client's first message (so it reads "busy" as that answer).
_REFUSAL_WAIT_S = 5.0


class EpisodeStateError(Exception):
    """A step before any reset, or after the episode ended."""


class _ResetBody(BaseModel):
    """OpenEnv's ResetRequest, plus simyard's `task` and `task_seed` (unknown keys are ignored, as OpenEnv does)."""

    model_config = ConfigDict(extra="ignore")
    seed: int | None = Field(default=None, ge=0)
    episode_id: str | None = Field(default=None, max_length=255)
    task: dict[str, Any] | None = None
    task_seed: int | None = None


class EnvServer:
    """One world kind served to many clients, a session (and a world) each.

    Args:
        world: A registered world's name (plugins included once imported).
        world_options: Its constructor options.
        max_sessions: Sessions at once; one more gets "busy" (HTTP 503, a WebSocket `CAPACITY_REACHED` error).
        idle_timeout_s: Sessions unused this long are closed with their worlds; None: never.
        inline: Run world calls on the event loop rather than a thread per session (see `SessionPool`); None
            decides from the start-up probe: inline when its reset and its median step each took under 1 ms.

    Raises:
        UnknownNameError: no world of that name (the hint lists the known ones).
        SimyardError: the world cannot be built with these options, or cannot say what actions it takes.
    """

    def __init__(self, world: str, world_options: dict[str, Any] | None = None, max_sessions: int = 16,
                 idle_timeout_s: float | None = 300.0, inline: bool | None = None) -> None:
        from simyard.platform import registry

        self.world = world
        self.world_options = dict(world_options or {})
        self.world_cls = registry.world_class(world)
        registry.check_world_options(world, self.world_options)
        self.spec, self.views, fast = self._probe(time_it=inline is None)
        self.action_model = codec.action_model(self.spec)
        self.step_model = _step_body_model(self.action_model)
        self.inline = fast if inline is None else inline
        self.pool = SessionPool(self._make_world, max_sessions, idle_timeout_s, inline=self.inline)
        self._hang_ups: set[asyncio.Future] = set()  # reaped sockets being told why (kept referenced until done)

    def _make_world(self) -> Any:
        from simyard.platform import registry

        return registry.make(self.world, **self.world_options)

    def _probe(self, time_it: bool) -> tuple[ActionSpec, tuple[str, ...], bool]:
        """Build one world at start-up: bad options fail here, once, and `/schema` gets the world's action spec."""
        try:
            env = self._make_world()
        except SimyardError:
            raise
        except Exception as exc:  # noqa: BLE001 (any constructor failure is the user's options, reported in a line)
            raise SimyardError(f"world {self.world!r} cannot be built with options {self.world_options}: {exc}",
                               hint=f"see `simyard env info {self.world}` for its options") from None
        try:
            fast = False
            try:
                task = self.world_cls.sample_task(0)
            except NotImplementedError:
                task = None  # a world without a task generator: its spec must not need a reset
            if task is not None:
                env.reset(task, seed=0)
                if time_it:
                    fast = _is_fast(env, task)
            return env.action_spec(), tuple(env.views), fast
        finally:
            env.close()

    # ------------------------------------------------------------------------------------------ the protocol

    def _reset(self, session: Session, body: _ResetBody) -> dict[str, Any]:
        """On the session's thread: start the episode the body asks for."""
        task = codec.task_from_reset(body.model_dump(exclude_unset=True), self.world, self.world_cls)
        observation = _world(session).reset(task, seed=body.seed)
        session.task, session.step_count, session.done = task, 0, False
        session.episode_id = body.episode_id or uuid.uuid4().hex
        return codec.reset_json(observation, _world(session).action_spec())

    def _step(self, session: Session, action: Any) -> dict[str, Any]:
        if session.task is None:
            raise EpisodeStateError("no episode yet: send a reset first")
        if session.done:
            raise EpisodeStateError("the episode is over: send a reset to start another")
        result = _world(session).step(action)
        session.step_count += 1
        session.done = bool(result.terminated or result.truncated)
        return codec.step_json(result)

    def _state(self, session: Session | None) -> dict[str, Any]:
        snapshot = session.env.state() if session is not None and session.env is not None else {}
        return {
            "episode_id": session.episode_id if session else None,
            "step_count": session.step_count if session else 0,
            "world": self.world,
            "task_id": session.task.id if session and session.task else None,
            "state": codec.plain(snapshot),
        }

    def _render(self, session: Session, view: Any) -> dict[str, Any]:
        if session.task is None:
            raise EpisodeStateError("no episode yet: send a reset first")
        image = _world(session).render(str(view or "rgb"))
        return {"image": data_url(image) if image is not None else None}

    def _oracle(self, session: Session) -> dict[str, Any]:
        if session.task is None:
            raise EpisodeStateError("no episode yet: send a reset first")
        return {"action": codec.plain(_world(session).oracle())}

    def schema(self) -> dict[str, Any]:
        return {"action": codec.action_schema(self.spec, self.views), "observation": codec.OBSERVATION_SCHEMA,
                "state": codec.STATE_SCHEMA}

    def metadata(self) -> dict[str, Any]:
        return {"name": self.world, "description": " ".join((self.world_cls.__doc__ or self.world).split()),
                "readme_content": None, "version": __version__, "author": "simyard",
                "documentation_url": None}

    def health(self) -> dict[str, Any]:
        return {"status": "healthy", "sessions": len(self.pool.sessions), "max_sessions": self.pool.max_sessions,
                "open_worlds": self.pool.open_worlds}

    @property
    def threading(self) -> str:
        return "world calls on the event loop" if self.inline else "a thread per session"

    # ------------------------------------------------------------------------------------------------ HTTP

    def app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            reaper = asyncio.create_task(self.pool.reaper())
            try:
                yield
            finally:
                reaper.cancel()
                await self.pool.close_all()

        routes = [
            Route("/reset", self._http_reset, methods=["POST"]),
            Route("/step", self._http_step, methods=["POST"]),
            Route("/state", self._http_state, methods=["GET"]),
            Route("/schema", lambda _: JSONResponse(self.schema()), methods=["GET"]),
            Route("/metadata", lambda _: JSONResponse(self.metadata()), methods=["GET"]),
            Route("/health", lambda _: JSONResponse(self.health()), methods=["GET"]),
            WebSocketRoute("/ws", self._websocket),
        ]
        return Starlette(routes=routes, lifespan=lifespan)

    async def _http_session(self, request: Request) -> Session:
        """The session the request's header names (the default one without it), opened if it is new."""
        session_id = request.headers.get(SESSION_HEADER) or DEFAULT_HTTP_SESSION
        return self.pool.get(session_id) or await self.pool.open(session_id)

    async def _http_reset(self, request: Request) -> JSONResponse:
        try:
            raw = await _json_body(request, allow_empty=True)
            body = _ResetBody.model_validate(raw if raw is not None else {})
            session = await self._http_session(request)
            answer = await session.call(self._reset, session, body)
        except HTTPProblem as problem:
            return problem.response()
        except Exception as exc:  # noqa: BLE001 (mapped to a status and a one-line message)
            return _http_error(exc)
        return JSONResponse(answer, headers={SESSION_HEADER: session.id})

    async def _http_step(self, request: Request) -> JSONResponse:
        session_id = request.headers.get(SESSION_HEADER) or DEFAULT_HTTP_SESSION
        try:
            raw = await _json_body(request)
            body: Any = self.step_model.model_validate(raw)
            found = self.pool.get(session_id)
            if found is None:
                raise EpisodeStateError(f"no session {session_id!r} (never reset, or closed when idle): "
                                        "send a reset first")
            session = found
            answer = await session.call(self._step, session, body.action.action, timeout_s=body.timeout_s)
        except HTTPProblem as problem:
            return problem.response()
        except CallTimeout as exc:
            await self.pool.close(session, str(exc))
            return _problem(504, str(exc))
        except Exception as exc:  # noqa: BLE001
            return _http_error(exc)
        return JSONResponse(answer, headers={SESSION_HEADER: session.id})

    async def _http_state(self, request: Request) -> JSONResponse:
        session = self.pool.get(request.headers.get(SESSION_HEADER) or DEFAULT_HTTP_SESSION)
        if session is None:
            return JSONResponse(self._state(None))
        try:
            return JSONResponse(await session.call(self._state, session))
        except Exception as exc:  # noqa: BLE001
            return _http_error(exc)

    # ------------------------------------------------------------------------------------------- WebSocket

    async def _websocket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            session = await self.pool.open()
        except Busy as exc:
            await self._refuse(websocket, exc)
            return
        except Exception as exc:  # noqa: BLE001
            await _ws_send_error(websocket, f"the world could not be built: {exc}", "FACTORY_ERROR")
            await _ws_close(websocket, 1011)
            return
        session.on_reaped = lambda: self._hang_ups.add(asyncio.ensure_future(self._hang_up(websocket, session)))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                raw = message.get("text") if message.get("text") is not None else message.get("bytes")
                if session.closed_reason is not None:
                    await _ws_send_error(websocket, session.closed_reason, "SESSION_ERROR")
                    break
                reply = await self._ws_message(session, raw)
                if reply is None:
                    break
                await websocket.send_text(reply)
        except WebSocketDisconnect:
            pass
        finally:
            await self.pool.close(session, "the client disconnected")
            await _ws_close(websocket, 1000)

    async def _refuse(self, websocket: WebSocket, busy: Busy) -> None:
        """Say busy at once, and again as the answer to the client's first message: a client that has already sent
        its reset cannot read a message that came with a close, so the socket stays open for one exchange."""
        refusal = _ws_error(str(busy), "CAPACITY_REACHED", active_sessions=busy.active,
                            max_sessions=busy.max_sessions)
        with contextlib.suppress(Exception):
            await websocket.send_text(refusal)
            message = await asyncio.wait_for(websocket.receive(), _REFUSAL_WAIT_S)
            if message["type"] != "websocket.disconnect":
                await websocket.send_text(refusal)
        await _ws_close(websocket, 1013)  # 1013: try again later

    async def _ws_message(self, session: Session, raw: str | bytes | None) -> str | None:
        """The reply to one WebSocket message, or None for `close`. Errors leave the session usable."""
        try:
            message = json.loads(raw or "")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _ws_error(f"invalid JSON: {exc}", "INVALID_JSON")
        kind = message.get("type") if isinstance(message, dict) else None
        try:
            if kind == "step":
                action: Any = self.action_model.model_validate(message.get("data"))
                data = await session.call(self._step, session, action.action)
                return json.dumps({"type": "observation", "data": data})
            if kind == "reset":
                body = _ResetBody.model_validate(message.get("data") or {})
                data = await session.call(self._reset, session, body)
                return json.dumps({"type": "observation", "data": data})
            if kind == "state":
                return json.dumps({"type": "state", "data": await session.call(self._state, session)})
            if kind == "render":
                view = (message.get("data") or {}).get("view")
                return json.dumps({"type": "render", "data": await session.call(self._render, session, view)})
            if kind == "oracle":
                return json.dumps({"type": "oracle", "data": await session.call(self._oracle, session)})
            if kind == "close":
                return None
            return _ws_error(f"unknown message type {kind!r}; send reset, step, state, oracle, render or close",
                             "UNKNOWN_TYPE")
        except ValidationError as exc:
            return json.dumps({"type": "error", "data": {"message": _first_problem(exc, ["data"]),
                                                         "code": "VALIDATION_ERROR",
                                                         "errors": _errors(exc, ["data"])}})
        except (ValueError, EpisodeStateError) as exc:
            return _ws_error(str(exc), "VALIDATION_ERROR")
        except SessionClosed as exc:
            return _ws_error(str(exc), "SESSION_ERROR")
        except Exception as exc:  # noqa: BLE001 (the world raised: reported, the session stays)
            log.exception("world call failed")
            return _ws_error(f"the world raised {type(exc).__name__}: {exc}", "EXECUTION_ERROR")

    async def _hang_up(self, websocket: WebSocket, session: Session) -> None:
        try:
            with contextlib.suppress(Exception):
                await _ws_send_error(websocket, session.closed_reason or "session closed", "SESSION_ERROR")
            await _ws_close(websocket, 1001)
        finally:
            self._hang_ups.discard(asyncio.current_task())


# -------------------------------------------------------------------------------------------------- helpers


def _world(session: Session) -> Any:
    """The session's world; a session closed meanwhile (reaped while a call waited) raises SessionClosed."""
    if session.env is None:
        raise SessionClosed(session.closed_reason or "the session is closed")
    return session.env


_FAST_CALL_S = 0.001


def _is_fast(env: Any, task: Any) -> bool:
    """Whether a world's calls are so quick that a thread hop would cost more than the call: its second reset and
    its median random step each under a millisecond (the first reset pays for imports and caches)."""
    import numpy as np

    started = time.perf_counter()
    env.reset(task, seed=1)
    if time.perf_counter() - started > _FAST_CALL_S:
        return False
    rng = np.random.default_rng(0)
    times = []
    try:
        for _ in range(10):
            action = env.sample_action(rng)
            started = time.perf_counter()
            result = env.step(action)
            times.append(time.perf_counter() - started)
            if result.terminated or result.truncated:
                break
    except Exception:  # noqa: BLE001 (no random actions, or a world that fails on one: give it threads, serve it)
        return False
    finally:
        env.reset(task, seed=0)  # leave the probe as a fresh episode, in case its action spec depends on it
    return sorted(times)[len(times) // 2] < _FAST_CALL_S


class HTTPProblem(Exception):
    def __init__(self, status: int, message: str, detail: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.detail = status, message, detail

    def response(self) -> JSONResponse:
        return _problem(self.status, self.message, self.detail)


def _step_body_model(action_model: type[BaseModel]) -> type[BaseModel]:
    """OpenEnv's StepRequest with this world's action model in place of a bare dict."""
    from pydantic import create_model

    return create_model(
        "SimyardStepRequest", __config__=ConfigDict(extra="ignore"),
        action=(action_model, ...),
        timeout_s=(float | None, Field(default=None, gt=0)),
        request_id=(str | None, Field(default=None, max_length=255)),
    )


async def _json_body(request: Request, allow_empty: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip() and allow_empty:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPProblem(422, f"the body is not JSON: {exc}") from None


def _errors(exc: ValidationError, prefix: list[str]) -> list[dict[str, Any]]:
    return [{"loc": prefix + [str(part) for part in error["loc"]], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()]


_TYPE_TAGS = {"int", "str", "float", "bool", "dict", "list"}


def _first_problem(exc: ValidationError, prefix: list[str]) -> str:
    """One line for the first field in error; a union's alternatives (`int`, `str` in the location) are joined."""

    def field_of(error: dict[str, Any]) -> str:
        parts = [part for part in error["loc"][1:] if part not in _TYPE_TAGS and "[" not in part]
        return ".".join(parts) or error["loc"][0]

    errors = _errors(exc, prefix)
    field = field_of(errors[0])
    messages = list(dict.fromkeys(error["msg"] for error in errors if field_of(error) == field))
    return f"field {field!r}: {' or '.join(messages)}"


def _problem(status: int, message: str, detail: list[dict[str, Any]] | None = None) -> JSONResponse:
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse({"detail": detail if detail is not None else message, "message": message},
                        status_code=status, headers=headers)


def _http_error(exc: Exception) -> JSONResponse:
    if isinstance(exc, ValidationError):
        return _problem(422, _first_problem(exc, ["body"]), _errors(exc, ["body"]))
    if isinstance(exc, Busy):
        return _problem(503, str(exc))
    if isinstance(exc, (EpisodeStateError, SessionClosed)):
        return _problem(409, str(exc))
    if isinstance(exc, ValueError):
        return _problem(422, str(exc))
    log.exception("world call failed")
    return _problem(500, f"the world raised {type(exc).__name__}: {exc}")


def _ws_error(message: str, code: str, **extra: Any) -> str:
    return json.dumps({"type": "error", "data": {"message": message, "code": code, **extra}})


async def _ws_send_error(websocket: WebSocket, message: str, code: str, **extra: Any) -> None:
    await websocket.send_text(_ws_error(message, code, **extra))


async def _ws_close(websocket: WebSocket, code: int) -> None:
    with contextlib.suppress(Exception):  # already closed by the client, or by the reaper's hang-up
        await websocket.close(code)


# -------------------------------------------------------------------------------------------------- running


def uvicorn_server(server: EnvServer, log_level: str = "warning") -> Any:
    """uvicorn for `server`, with its lifespan on (the reaper starts and stops with it) and frames up to 100 MiB."""
    return http.uvicorn_server(server.app(), log_level=log_level, lifespan="on", ws_max_size=100 * 1024 * 1024)


class BackgroundEnvServer(http.ThreadedServer):
    """An `EnvServer` on uvicorn in a thread of this process, on loopback and a free port (tests, benchmarks)."""

    def __init__(self, server: EnvServer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.env_server = server
        self.sock = listen_on(host, port)
        self.server = uvicorn_server(server)
        super().__init__("simyard-envserve")

    @property
    def base_url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}"

    @property
    def pool(self) -> SessionPool:
        return self.env_server.pool
