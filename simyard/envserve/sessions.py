"""Sessions of `simyard env serve`: one world per session, a cap on how many, and a reaper for idle ones.

Each session owns one world and one thread: the world is built, stepped and closed on that thread (an OpenGL
context is bound to the thread that made it), and a session's calls run one at a time; worlds fast enough to gain
nothing from a thread run on the event loop's instead (`inline`). A session that has not been
used for `idle_timeout_s` is closed by the reaper, world and all: a client that vanished without closing its socket
(a half-open TCP connection sends nothing, so the server never hears a disconnect) must not hold a slot for ever.
Asking for a session beyond the cap raises `Busy` at once, never a wait in a queue.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from simyard.platform.api import Env, Task

log = logging.getLogger("simyard.envserve")


class Busy(Exception):
    """Every session slot is taken."""

    def __init__(self, active: int, max_sessions: int) -> None:
        super().__init__(f"server busy: {active} of {max_sessions} sessions in use; try again later "
                         f"(or start the server with a larger --max-sessions)")
        self.active = active
        self.max_sessions = max_sessions


class SessionClosed(Exception):
    """The session was closed (idle past the timeout, or its world was abandoned after a step timed out)."""


class CallTimeout(Exception):
    """A world call ran past the step's `timeout_s`; the session was closed, since its world may still be busy."""


@dataclass(eq=False)
class Session:
    """One client's world, its thread, and what the protocol reports about it (`/state`)."""

    id: str
    env: Env | None = None
    episode_id: str | None = None
    task: Task | None = None
    step_count: int = 0
    done: bool = False
    last_active: float = field(default_factory=time.monotonic)
    closed_reason: str | None = None
    #: Called (on the event loop) when the reaper closes the session, so a WebSocket handler can hang up.
    on_reaped: Callable[[], Any] | None = None
    #: Run the world's calls on the event loop's thread rather than a thread of its own (see SessionPool).
    inline: bool = False
    #: A call ran past its timeout and may still hold the session's thread.
    stuck: bool = False
    executor: ThreadPoolExecutor | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        if not self.inline:
            self.executor = ThreadPoolExecutor(1, "simyard-envserve-world")

    async def call(self, fn: Callable[..., Any], *args: Any, timeout_s: float | None = None) -> Any:
        """Run `fn(*args)` on the session's thread, one call at a time; raises SessionClosed or CallTimeout."""
        if self.inline:  # nothing is awaited, so no other call of this session can interleave
            if self.closed_reason is not None:
                raise SessionClosed(self.closed_reason)
            try:
                return fn(*args)
            finally:
                self.last_active = time.monotonic()
        async with self.lock:
            if self.closed_reason is not None or self.executor is None:
                raise SessionClosed(self.closed_reason or "the session is closed")
            future = asyncio.wrap_future(self.executor.submit(fn, *args))
            try:
                if timeout_s is None:
                    return await future
                return await asyncio.wait_for(future, timeout_s)
            except TimeoutError:
                self.stuck = True
                raise CallTimeout(f"the world took longer than timeout_s={timeout_s:g}; the session was closed "
                                  f"(its world may still be busy)") from None
            finally:
                self.last_active = time.monotonic()


class SessionPool:
    """All sessions of one server: opened against a cap, closed by their client or by the idle reaper.

    Args:
        factory: Builds one fresh world (called on the new session's thread).
        max_sessions: Sessions open at once at most; one more is refused with `Busy`.
        idle_timeout_s: A session unused this long is closed; None keeps sessions until their client closes them.
        inline: Run every world's calls on the event loop's own thread: for worlds whose calls take microseconds
            (the puzzles), a hop to a session thread and back costs more than the call. A slow call then stalls
            every session, and `timeout_s` cannot be enforced, so the server chooses this only for fast worlds.
    """

    def __init__(self, factory: Callable[[], Env], max_sessions: int, idle_timeout_s: float | None,
                 inline: bool = False) -> None:
        self.factory = factory
        self.inline = inline
        self.max_sessions = max_sessions
        self.idle_timeout_s = idle_timeout_s
        self.sessions: dict[str, Session] = {}
        self.worlds_built = 0
        self.worlds_closed = 0
        self.reaped = 0
        self._count_lock = threading.Lock()  # worlds are built and closed on their sessions' threads

    @property
    def open_worlds(self) -> int:
        """Worlds built and not yet closed: zero once every client has gone (tests count leaks with it)."""
        return self.worlds_built - self.worlds_closed

    def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    async def open(self, session_id: str | None = None) -> Session:
        """A new session with its world built; raises `Busy` when every slot is taken."""
        if len(self.sessions) >= self.max_sessions:
            raise Busy(len(self.sessions), self.max_sessions)
        session = Session(session_id or uuid.uuid4().hex, inline=self.inline)
        self.sessions[session.id] = session  # the slot is taken before the (maybe slow) build, so the cap holds
        try:
            session.env = await session.call(self._build)
        except BaseException:
            self.sessions.pop(session.id, None)
            if session.executor is not None:
                session.executor.shutdown(wait=False)
            raise
        return session

    def _build(self) -> Env:
        env = self.factory()
        with self._count_lock:
            self.worlds_built += 1
        return env

    async def close(self, session: Session, reason: str = "closed by the client") -> None:
        """Close the session and its world (on its thread); closing twice does nothing."""
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
        if session.closed_reason is not None:
            return
        session.closed_reason = reason
        env, session.env = session.env, None
        if session.executor is None:
            if env is not None:
                self._close_world(env)
            return
        if env is not None:
            future = asyncio.wrap_future(session.executor.submit(self._close_world, env))
            if not (session.lock.locked() or session.stuck):
                await future  # otherwise a call holds the thread: the close runs when it returns
        session.executor.shutdown(wait=False)

    def _close_world(self, env: Env) -> None:
        try:
            env.close()
        except Exception:  # noqa: BLE001 (one world's failing close must not take the server down)
            log.exception("closing a world failed")
        finally:
            with self._count_lock:
                self.worlds_closed += 1

    async def reap_idle(self) -> list[str]:
        """Close every session idle past the timeout (a call in progress is not idle); returns their ids."""
        if self.idle_timeout_s is None:
            return []
        now = time.monotonic()
        idle = [session for session in list(self.sessions.values())
                if not session.lock.locked() and now - session.last_active > self.idle_timeout_s]
        for session in idle:
            await self.close(session, f"session idle for more than {self.idle_timeout_s:g} s; closed by the server")
            self.reaped += 1
            if session.on_reaped is not None:
                session.on_reaped()
        return [session.id for session in idle]

    async def reaper(self) -> None:
        """Reap idle sessions for ever, checking a few times per timeout (the server cancels it at shutdown)."""
        if self.idle_timeout_s is None:
            return
        period = min(max(self.idle_timeout_s / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(period)
            reaped = await self.reap_idle()
            if reaped:
                log.info("reaped %d idle session(s)", len(reaped))

    async def close_all(self) -> None:
        for session in list(self.sessions.values()):
            await self.close(session, "the server is shutting down")
