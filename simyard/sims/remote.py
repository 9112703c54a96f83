"""The `remote` world: a world served by someone else over Meta OpenEnv's protocol, played as a local one.

    simyard env serve sokoban --port 8100 &
    simyard bench run remote --suite-opt suite=ragen --suite-opt world=sokoban --world-opt url=http://127.0.0.1:8100

One world is one WebSocket session (`/ws`), opened at the first reset and kept across episodes. A server at its
session cap is waited for (up to `slot_wait_s`, each refusal reported as a 429 to adaptive concurrency, which then
sheds lanes and so frees sessions) before the reset fails as an infrastructure error. The action spec comes
from the server's `/schema`: a simyard server puts its whole ActionSpec there (and each reset's answer carries the
episode's own); any other OpenEnv server's action schema becomes a `json` ActionSpec whose actions are sent as they
are. A task's `config` is what the reset sends (OpenEnv's reset keywords: `seed`, `episode_id`, and a simyard
server's `task` or `task_seed`); the episode seed is sent as `seed` unless the config names one.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import numpy as np

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.errors import InfraError, SimyardError

#: Error codes of a server's answer that mean the machinery failed (retried), not the action.
_INFRA_CODES = {"CAPACITY_REACHED", "SESSION_ERROR", "FACTORY_ERROR"}


class _ServerBusy(InfraError):
    """The server refused a new session: all of its `--max-sessions` are in use."""


class RemoteEnv(Env):
    """A world served over OpenEnv's HTTP/WebSocket protocol by another process or host (`--world-opt url=...`)."""

    name = "remote"

    def __init__(self, url: str = "", connect_timeout_s: float = 10.0, message_timeout_s: float = 120.0,
                 slot_wait_s: float = 10.0) -> None:
        """Args:
            url: The server's base URL, http(s):// or ws(s):// (e.g. http://127.0.0.1:8000).
            connect_timeout_s: Seconds to wait for the server to answer a connection.
            message_timeout_s: Seconds to wait for the answer to one reset or step.
            slot_wait_s: Seconds a reset waits for a session when the server has none free (0: fail at once).
        """
        from simyard.envserve import codec

        self._codec = codec
        self.url = _base_url(url)
        self.connect_timeout_s = connect_timeout_s
        self.message_timeout_s = message_timeout_s
        self.slot_wait_s = float(slot_wait_s)
        schema = self._get("/schema").get("action") or {}
        self.simyard_server = codec.SPEC_KEY in schema
        if self.simyard_server:
            self._spec = codec.spec_from_json(schema[codec.SPEC_KEY])
            self.views = tuple(schema.get(codec.VIEWS_KEY) or ())
        else:
            self._spec = ActionSpec(kind="json", schema=schema, help=_schema_help(schema))
        self._socket: Any = None
        self._connection = contextlib.ExitStack()
        self._last = Observation(text="")

    # ------------------------------------------------------------------------------------------ the contract

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        data = dict(task.config)
        if seed is not None:
            data.setdefault("seed", int(seed) % 2**31)
        try:
            reply = self._exchange({"type": "reset", "data": data})
        except InfraError:
            # the server may have reaped this session while it sat idle between episodes, or have none free: a reset
            # starts afresh, so a new connection is safe (a failure other than a busy server then stands)
            reply = self._reset_when_free(data)
        if reply.get("type") == "error":
            raise SimyardError(f"the server at {self.url} refused the reset: {_message(reply)}",
                               hint="a task's config is sent as the reset's keywords (seed, task, task_seed)")
        body = (reply.get("data") or {}).get("observation") or {}
        if isinstance(body.get("action_spec"), dict):
            self._spec = self._codec.spec_from_json(body["action_spec"])
        self._last = self._codec.observation_from_json(body)
        return self._last

    def step(self, action: Action) -> StepResult:
        if self.simyard_server:
            payload: Any = {"action": self._codec.plain(action)}
        elif isinstance(action, dict):
            payload = action
        else:
            return self._invalid(f"this server takes JSON-object actions matching its schema, not {action!r}")
        try:
            message = json.dumps({"type": "step", "data": payload})
        except (TypeError, ValueError):
            return self._invalid(f"{action!r} cannot be sent as JSON; send {self._spec.kind} actions")
        reply = self._exchange(message)
        if reply.get("type") == "error":
            if (reply.get("data") or {}).get("code") == "VALIDATION_ERROR":
                return self._invalid(f"the server refused the action: {_message(reply)}")
            raise SimyardError(f"the server at {self.url} failed a step: {_message(reply)}")
        data = reply.get("data") or {}
        body = data.get("observation") or {}
        self._last = self._codec.observation_from_json(body)
        done = bool(data.get("done"))
        info = dict(body["info"]) if self.simyard_server and isinstance(body.get("info"), dict) else {"valid": True}
        terminated = bool(body.get("terminated", done)) if self.simyard_server else done
        truncated = bool(body.get("truncated", False)) if self.simyard_server else False
        reward = data.get("reward")
        return StepResult(self._last, float(reward) if reward is not None else 0.0, terminated, truncated, info)

    def action_spec(self) -> ActionSpec:
        return self._spec

    def oracle(self) -> Action | list[Action]:
        reply = self._exchange({"type": "oracle"})
        if reply.get("type") != "oracle":
            raise SimyardError(f"the server at {self.url} has no oracle: {_message(reply)}",
                               hint="only simyard's own `simyard env serve` answers oracle requests")
        return reply["data"]["action"]

    def render(self, view: str = "rgb") -> np.ndarray | None:
        """The view as the last observation showed it, else (a simyard server) as the served world renders it."""
        if view in self._last.images or not self.simyard_server:
            return self._last.images.get(view)
        reply = self._exchange({"type": "render", "data": {"view": view}})
        image = (reply.get("data") or {}).get("image") if reply.get("type") == "render" else None
        return self._codec.decode_image(image) if image else None

    def state(self) -> dict[str, Any]:
        """The served world's state (a simyard server's `state` part: its episode id is not the world's state)."""
        reply = self._exchange({"type": "state"})
        data = dict(reply.get("data") or {}) if reply.get("type") == "state" else {}
        return dict(data.get("state") or {}) if self.simyard_server else data

    def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            try:
                socket.send(json.dumps({"type": "close"}))
            except Exception:  # noqa: BLE001 (the server may be gone already; closing is best effort)
                pass
            self._connection.close()

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """The served world's own task number `seed` (a simyard server generates it; others get `seed`)."""
        return Task(id=f"remote-{seed}", world=cls.name, config={"task_seed": seed})

    # ----------------------------------------------------------------------------------------------- the wire

    def _reset_when_free(self, data: dict[str, Any]) -> dict[str, Any]:
        """Reset on a new session, waiting up to `slot_wait_s` while the server says all its sessions are in use."""
        from simyard.platform.adaptive import note_throttled

        deadline = time.monotonic() + self.slot_wait_s
        pause = 0.05
        while True:
            try:
                return self._exchange({"type": "reset", "data": data})
            except _ServerBusy:
                note_throttled()  # as a 429: `--concurrency auto` sheds lanes, whose worlds then free sessions
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(1.0, pause * 2)

    def _invalid(self, feedback: str) -> StepResult:
        return StepResult(self._last, 0.0, False, False, {"valid": False, "feedback": feedback})

    def _exchange(self, message: dict[str, Any] | str) -> dict[str, Any]:
        """Send one message on the session's socket and read its answer; a lost link is an InfraError."""
        from websockets.exceptions import WebSocketException

        try:
            if self._socket is None:
                from websockets.sync.client import connect

                self._connection = contextlib.ExitStack()
                self._socket = self._connection.enter_context(connect(
                    self.url.replace("http", "ws", 1) + "/ws", open_timeout=self.connect_timeout_s,
                    max_size=100 * 1024 * 1024, proxy=None))
            self._socket.send(message if isinstance(message, str) else json.dumps(message))
            reply = json.loads(self._socket.recv(timeout=self.message_timeout_s))
        except (OSError, TimeoutError, WebSocketException) as exc:
            self.close()
            raise InfraError(f"lost the OpenEnv server at {self.url}: {type(exc).__name__}: {exc}") from None
        code = (reply.get("data") or {}).get("code") if reply.get("type") == "error" else None
        if code in _INFRA_CODES:
            self.close()
            kind = _ServerBusy if code == "CAPACITY_REACHED" else InfraError
            raise kind(f"the server at {self.url} ended the session: {_message(reply)}")
        return reply

    def _get(self, path: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=self.connect_timeout_s) as answer:
                return json.loads(answer.read())
        except (OSError, ValueError) as exc:
            raise SimyardError(f"no OpenEnv server answers at {self.url} ({path}): {exc}",
                               hint="start one, e.g. `simyard env serve sokoban --port 8000`, and pass "
                                    "--world-opt url=http://127.0.0.1:8000") from None


def _base_url(url: str) -> str:
    parsed = urllib.parse.urlparse(url.strip())
    if parsed.scheme not in {"http", "https", "ws", "wss"} or not parsed.netloc:
        raise SimyardError(f"the remote world needs a server URL, got {url!r}",
                           hint="pass --world-opt url=http://HOST:PORT (http, https, ws or wss)")
    scheme = {"ws": "http", "wss": "https"}.get(parsed.scheme, parsed.scheme)
    return f"{scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"


def _message(reply: dict[str, Any]) -> str:
    data = reply.get("data") or {}
    return str(data.get("message") or reply)


def _schema_help(schema: dict[str, Any]) -> str:
    fields = ", ".join(sorted((schema.get("properties") or {}).keys()))
    return f"A JSON object with the fields: {fields}." if fields else "A JSON object."


def remote_suite(suite: str | None = None, world: str | None = None, count: int = 10) -> list[Task]:
    """Tasks for the `remote` world: another suite's tasks of one world, sent whole to a simyard server (`suite`,
    `world`), or `count` tasks the served world generates itself (task seeds 0..count-1).

    Args:
        suite: A suite whose tasks to send (e.g. ragen).
        world: Which of its worlds the server serves (needed when the suite has several).
        count: How many generated tasks, without `suite`.
    """
    if suite is None:
        if count < 1:
            raise SimyardError(f"count={count} must be at least 1", hint="e.g. --suite-opt count=20")
        return [RemoteEnv.sample_task(seed) for seed in range(count)]
    from simyard.platform import registry

    tasks = registry.load_suite(suite)
    worlds = sorted({task.world for task in tasks})
    if world is None and len(worlds) > 1:
        raise SimyardError(f"suite {suite!r} has tasks of several worlds; name the one the server serves",
                           hint=f"add --suite-opt world=NAME, one of: {', '.join(worlds)}")
    chosen = world or worlds[0]
    if chosen not in worlds:
        raise SimyardError(f"suite {suite!r} has no tasks of world {chosen!r}", hint=f"its worlds: {', '.join(worlds)}")
    return [Task(id=task.id, world=RemoteEnv.name, instruction=task.instruction, subset=task.subset,
                 config={"task": task.model_dump(exclude={"world"})}, max_steps=task.max_steps,
                 max_invalid=task.max_invalid)
            for task in tasks if task.world == chosen]
