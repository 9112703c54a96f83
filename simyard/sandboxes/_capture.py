"""Capturing a command's output under a byte cap, and driving a local process to its end or its deadline.

Shared by the `bwrap` and `local` sandboxes (a host process with pipes) and the `docker` one (frames from the Docker
API feed the same `Capped` buffers), so every implementation truncates the same way: the first half of the cap and the
last half are kept, the middle is dropped and replaced by one marker line that says how many bytes went. The tail is
kept because that is where a test run's summary and a traceback's last frame are.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Callable

#: How long the pipes may stay open after the process was killed (a grandchild that escaped the kill holds them).
DRAIN_GRACE_S = 2.0
_READ = 1 << 20


class Capped:
    """One stream's bytes, at most `limit` kept (head and tail halves); `truncated` once anything was dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, int(limit))
        self._head_cap = self.limit // 2
        self._tail_cap = self.limit - self._head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    @property
    def truncated(self) -> bool:
        return self.total > self.limit

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data and self._tail_cap:
            self.tail += data
            if len(self.tail) > 2 * self._tail_cap:
                del self.tail[: len(self.tail) - self._tail_cap]

    def text(self) -> str:
        """The kept bytes as text (UTF-8, undecodable bytes replaced), with the marker where bytes were dropped."""
        if not self.truncated:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", errors="replace")
        tail = bytes(self.tail[-self._tail_cap :]) if self._tail_cap else b""
        dropped = self.total - len(self.head) - len(tail)
        marker = f"\n[simyard: {dropped} bytes of output dropped here; output is capped at {self.limit} bytes]\n"
        return bytes(self.head).decode("utf-8", errors="replace") + marker + tail.decode("utf-8", errors="replace")


def drive(
    proc: subprocess.Popen,
    stdin: bytes | None,
    deadline: float,
    limit: int,
    kill: Callable[[], None],
    after_exit: Callable[[], None] | None = None,
) -> tuple[Capped, Capped, bool]:
    """Feed `stdin`, read stdout and stderr into `Capped` buffers until both close, and call `kill()` once at
    `deadline` (a `time.monotonic()` value). Returns (stdout, stderr, timed_out). Reads never block past the deadline
    plus `DRAIN_GRACE_S`: pipes still open then (held by a process that escaped the kill) are abandoned.

    `after_exit`, when given, is called once when `proc` has exited but its pipes are still open (background children
    hold them): it should end those children, so a command that exits is never reported as timed out."""
    out, err = Capped(limit), Capped(limit)
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    pending = memoryview(stdin or b"")
    if proc.stdin is not None:
        if pending:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE, None)
        else:
            proc.stdin.close()
    timed_out = False
    give_up = float("inf")
    poll_s = 0.05 if after_exit is not None else 1.0
    try:
        while sel.get_map():
            if after_exit is not None and proc.poll() is not None:
                after_exit()
                after_exit = None
                give_up = min(give_up, time.monotonic() + DRAIN_GRACE_S)
            now = time.monotonic()
            if not timed_out and now >= deadline:
                timed_out = True
                kill()
                give_up = now + DRAIN_GRACE_S
            if now >= give_up:
                break
            wait = (deadline if not timed_out else give_up) - now
            for key, _ in sel.select(timeout=max(0.0, min(wait, poll_s))):
                if key.data is None:  # stdin writable
                    try:
                        n = os.write(key.fd, pending[: 1 << 16])
                    except (BrokenPipeError, OSError):
                        n = len(pending)
                    pending = pending[n:]
                    if not pending:
                        sel.unregister(key.fileobj)
                        if proc.stdin is not None:
                            proc.stdin.close()
                    continue
                chunk = os.read(key.fd, _READ)
                if chunk:
                    key.data.feed(chunk)
                else:
                    sel.unregister(key.fileobj)
    finally:
        for key in list(sel.get_map().values()):
            sel.unregister(key.fileobj)
        sel.close()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()
    return out, err, timed_out
