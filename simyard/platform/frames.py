"""Observation images to files: the one place frames are encoded (PNG files, data URLs, per-episode videos).

Three pieces, each usable alone:

- `FramePolicy` (`all | every:N | final | none`): which steps of an episode keep their PNG files.
- `encode_png` / `data_url` / `save_png`: PNG encoding, memoised by array identity, so the frame the recorder
  writes and the frame an agent sends to its model cost one encode between them.
- `FrameWriter`: one episode's frames. `add` answers at once with the file names the trajectory records; encoding
  and writing happen on one process-wide writer thread behind a bounded queue; `close` waits for them and raises
  `FrameWriteError` if any write failed. With `video=True` it also writes one video per view.

Images are not copied when handed over (unless `copy_images=True`): the contract is that a world returns images it
will not change afterwards, because an observation may be kept (by an agent's history, by a world's own cache, as
FrozenLake does) and shared between recorder and agent. A world that renders into one reused buffer must return a
copy; a writer with `copy_images=True` protects against one that does not, at ~50 µs per 500x500 frame and at the
price of the shared encode (the copy is a different array from the one the agent sees).
"""

from __future__ import annotations

import atexit
import base64
import os
import struct
import threading
import weakref
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from simyard.platform.errors import SimyardError

FRAMES_DIR = "frames"

#: zlib level of every PNG: frames are written while episodes run, so time matters more than bytes. Level 1 with the
#: PNG "up" filter measured 2-4x faster than Pillow's compress_level=1 (which tries five filters per row) at about
#: the same size on rendered scenes, and it is one GIL-free zlib call, so the writer thread barely slows the world.
PNG_LEVEL = 1

#: How many image bytes may wait for the writer thread (queued or being written) before `FrameWriter.add` blocks.
DEFAULT_QUEUE_BYTES = 64 << 20

_MEMO_SIZE = 64  # encoded frames remembered; an entry holds only a weak reference to its array

PolicyKind = Literal["all", "every", "final", "none"]

_POLICY_HINT = "use all, every:N (N a whole number >= 1), final or none"


class FrameWriteError(SimyardError):
    """Frames or a video that could not be written (disk full, directory removed, encoder failure)."""


def frame_name(index: int, view: str) -> str:
    """`step_0003_rgb.png`: the image from `view` after step `index` (0 is the reset)."""
    return f"step_{index:04d}_{view}.png"


# ------------------------------------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class FramePolicy:
    """Which steps of an episode keep their PNG files.

    Attributes:
        kind: `all` (every step), `every` (steps 0, N, 2N, ...), `final` (only the episode's last step, known when
            the writer closes) or `none`.
        every: N for `every`; 1 otherwise.
    """

    kind: PolicyKind = "all"
    every: int = 1

    @classmethod
    def parse(cls, text: str | FramePolicy) -> FramePolicy:
        """`all`, `every:N`, `final` or `none` (case and spaces ignored); SimyardError for anything else."""
        if isinstance(text, FramePolicy):
            return text
        spec = str(text).strip().lower().replace(" ", "")
        if spec in ("all", "final", "none"):
            return cls(spec)  # type: ignore[arg-type]
        if spec.startswith("every:"):
            number = spec.removeprefix("every:")
            if not number.isdigit() or int(number) < 1:
                raise SimyardError(f"frame policy {text!r}: N must be a whole number >= 1", hint=_POLICY_HINT)
            return cls("all") if int(number) == 1 else cls("every", int(number))
        raise SimyardError(f"unknown frame policy {text!r}", hint=_POLICY_HINT)

    def wants(self, step_index: int) -> bool:
        """Whether step `step_index` (0 is the reset) gets PNG files as it happens; `final` says no to every step."""
        if self.kind == "all":
            return True
        if self.kind == "every":
            return step_index % self.every == 0
        return False

    def __str__(self) -> str:
        return f"every:{self.every}" if self.kind == "every" else self.kind


# ----------------------------------------------------------------------------------------------------- encoding


class _Memo:
    __slots__ = ("ref", "png", "done")

    def __init__(self, ref: weakref.ref) -> None:
        self.ref = ref
        self.png: bytes | None = None
        self.done = threading.Event()


_memo: OrderedDict[int, _Memo] = OrderedDict()
_memo_lock = threading.Lock()
_encodes = 0


def encode_count() -> int:
    """How many PNG encodes this process has done (memoised answers are not counted): for tests and benchmarks."""
    return _encodes


def encode_png(image: Any) -> bytes:
    """The PNG file of an HxWx3 (or HxW, HxWx4) uint8 image, lossless.

    Memoised by identity: asking again for the same array object returns the same bytes without encoding, and a
    second thread asking while the first encodes waits for it rather than encoding twice. An entry holds a weak
    reference to its array and is used only while that very array is alive (`is`), so a recycled `id` never returns
    another image's bytes. It follows that an array must not be changed after it was encoded (see the module doc).

    Raises:
        SimyardError: `image` is not an image (wrong number of dimensions or channels, empty).
    """
    try:
        ref = weakref.ref(image)
    except TypeError:  # not an ndarray (a nested list...): nothing stable to remember it by
        return _encode(image)
    key = id(image)
    with _memo_lock:
        memo = _memo.get(key)
        if memo is not None and memo.ref() is image:
            _memo.move_to_end(key)
            owner = False
        else:
            memo = _memo[key] = _Memo(ref)
            if len(_memo) > _MEMO_SIZE:
                _memo.popitem(last=False)
            owner = True
    if not owner:
        memo.done.wait()
        return memo.png if memo.png is not None else _encode(image)  # the first encoder failed: try, and raise
    try:
        memo.png = _encode(image)
    finally:
        memo.done.set()
        if memo.png is None:
            with _memo_lock:
                if _memo.get(key) is memo:
                    del _memo[key]
    return memo.png


def data_url(image: Any) -> str:
    """`data:image/png;base64,...`: the form chat APIs accept inline (shares `encode_png`'s memo)."""
    return "data:image/png;base64," + base64.b64encode(encode_png(image)).decode("ascii")


def save_png(image: Any, path: str | Path) -> Path:
    """Write `image` as a PNG file at `path` (shares `encode_png`'s memo); returns the path."""
    path = Path(path)
    path.write_bytes(encode_png(image))
    return path


_PNG_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


def _as_image(image: Any) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = array.astype(np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in _PNG_COLOUR_TYPES or array.shape[0] == 0 or array.shape[1] == 0:
        raise SimyardError(
            f"an image of shape {tuple(np.shape(image))} cannot be encoded",
            hint="observation images are HxWx3 uint8 arrays (HxW grey and HxWx4 RGBA also work)",
        )
    return array


def _encode(image: Any) -> bytes:
    global _encodes
    array = _as_image(image)
    height, width, channels = array.shape
    rows = np.ascontiguousarray(array).reshape(height, width * channels)
    # Filter type 2 ("up") on every row: each byte minus the byte above, wrapping mod 256 as PNG specifies (the
    # first row's "above" is zeros, so it is stored as is). One numpy subtraction, then one zlib call.
    body = np.empty((height, width * channels + 1), dtype=np.uint8)
    body[:, 0] = 2
    body[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=body[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR_TYPES[channels], 0, 0, 0)
    png = b"".join((b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header),
                    _chunk(b"IDAT", zlib.compress(body.data, PNG_LEVEL)), _chunk(b"IEND", b"")))
    with _memo_lock:
        _encodes += 1
    return png


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


# ------------------------------------------------------------------------------------------------ writer thread


class _Worker:
    """The process's one writer thread and its queue, bounded by the image bytes it holds (not by job count)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.pending_bytes = 0
        self.peak_bytes = 0
        self._jobs: deque[tuple[Callable[[], None], int]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], None], nbytes: int, force: bool = False) -> None:
        """Queue `job`; blocks while the queue holds `limit_bytes` (a job is always let into an empty queue)."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="simyard-frames", daemon=True)
                self._thread.start()
            while not force and self._jobs and self.pending_bytes + nbytes > self.limit_bytes:
                self._cond.wait()
            self._jobs.append((job, nbytes))
            self.pending_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.pending_bytes)
            self._cond.notify_all()

    def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued job ran; False if `timeout_s` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs, timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._jobs))
                job, nbytes = self._jobs[0]  # stays counted until written: its images are still in memory
            try:
                job()
            except BaseException:  # noqa: BLE001 -- jobs record their own errors; the thread must outlive any
                pass
            with self._cond:
                self._jobs.popleft()
                self.pending_bytes -= nbytes
                self._cond.notify_all()


_worker: _Worker | None = None
_worker_lock = threading.Lock()
_queue_limit = DEFAULT_QUEUE_BYTES


def _get_worker() -> _Worker:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = _Worker(_queue_limit)
        return _worker


def set_queue_limit(limit_bytes: int) -> None:
    """Set how many image bytes may wait for the writer thread before `add` blocks (default 64 MiB)."""
    global _queue_limit
    _queue_limit = int(limit_bytes)
    _get_worker().limit_bytes = _queue_limit


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The writer queue now: image bytes waiting or being written, the most ever held, and the bound."""

    pending_bytes: int
    peak_bytes: int
    limit_bytes: int


def queue_stats(reset_peak: bool = False) -> QueueStats:
    """How full the writer queue is (and was); `reset_peak` starts a new peak from now."""
    worker = _get_worker()
    with worker._cond:
        stats = QueueStats(worker.pending_bytes, worker.peak_bytes, worker.limit_bytes)
        if reset_peak:
            worker.peak_bytes = worker.pending_bytes
    return stats


def _drain_at_exit() -> None:
    # The writer is a daemon thread: without this, frames still queued when the interpreter exits would be lost.
    if _worker is not None:
        _worker.drain(timeout_s=60)


def _after_fork_in_child() -> None:
    # The thread did not survive the fork and its locks may be held; a forked child starts afresh.
    global _worker, _worker_lock, _memo_lock
    _worker, _worker_lock, _memo_lock = None, threading.Lock(), threading.Lock()
    _memo.clear()


atexit.register(_drain_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ------------------------------------------------------------------------------------------------------- videos


def video_format() -> Literal["mp4", "gif"]:
    """`mp4` where imageio and its ffmpeg binary (the imageio-ffmpeg wheel ships one) are present, else `gif`."""
    global _VIDEO_FORMAT
    if _VIDEO_FORMAT is None:
        try:
            import imageio.v2  # noqa: F401
            import imageio_ffmpeg

            _VIDEO_FORMAT = "mp4" if imageio_ffmpeg.get_ffmpeg_exe() else "gif"
        except Exception:  # noqa: BLE001 -- missing package, or a wheel without a binary for this platform
            _VIDEO_FORMAT = "gif"
    return _VIDEO_FORMAT


_VIDEO_FORMAT: Literal["mp4", "gif"] | None = None


def video_name(view: str, fmt: str | None = None) -> str:
    """`video_rgb.mp4`: one view's video of a whole episode."""
    return f"video_{view}.{fmt or video_format()}"


def _fit(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """`frame` as RGB of exactly height x width: cropped or padded with black at the bottom and right."""
    frame = _as_image(frame)
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    elif frame.shape[2] == 4:
        frame = frame[:, :, :3]
    if frame.shape[0] == height and frame.shape[1] == width:
        return frame
    fitted = np.zeros((height, width, 3), dtype=np.uint8)
    h, w = min(height, frame.shape[0]), min(width, frame.shape[1])
    fitted[:h, :w] = frame[:h, :w]
    return fitted


class _Mp4Sink:
    """H.264 through imageio's ffmpeg plugin, fed one frame at a time (ffmpeg holds only its own few frames)."""

    def __init__(self, path: Path, first: np.ndarray, fps: float) -> None:
        import imageio.v2 as imageio

        # yuv420p (what every player decodes) needs even sides: round up and pad, rather than let ffmpeg rescale.
        self.height, self.width = first.shape[0] + first.shape[0] % 2, first.shape[1] + first.shape[1] % 2
        self._writer = imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                          pixelformat="yuv420p", macro_block_size=1, ffmpeg_log_level="error")

    def append(self, frame: np.ndarray) -> None:
        self._writer.append_data(_fit(frame, self.height, self.width))

    def close(self) -> None:
        self._writer.close()


class _GifSink:
    """An animated GIF written frame by frame (each with its own 256-colour palette), for hosts without ffmpeg."""

    def __init__(self, path: Path, first: np.ndarray, fps: float) -> None:
        self.height, self.width = first.shape[:2]
        self._duration_ms = max(20, round(1000 / fps))
        self._handle = path.open("wb")
        self._started = False

    def append(self, frame: np.ndarray) -> None:
        from PIL import GifImagePlugin, Image

        picture = Image.fromarray(_fit(frame, self.height, self.width)).quantize(256, Image.Quantize.FASTOCTREE)
        if not self._started:
            header, _ = GifImagePlugin.getheader(picture, None, {"loop": 0, "duration": self._duration_ms})
            self._handle.write(b"".join(header))
            self._started = True
        parts = GifImagePlugin.getdata(picture, include_color_table=True, duration=self._duration_ms, loop=0)
        self._handle.write(b"".join(parts))

    def close(self) -> None:
        if self._started:
            self._handle.write(b";")  # the GIF trailer
        self._handle.close()


# ------------------------------------------------------------------------------------------------ frame writer


@dataclass(frozen=True, slots=True)
class EpisodeFrames:
    """What a `FrameWriter` wrote for its episode (paths relative to the episode directory).

    Attributes:
        steps: Step index -> view -> PNG file, for every step whose PNGs were written.
        videos: View -> video file (`frames/video_rgb.mp4`), when videos were asked for.
        last_step: The last step handed to `add` (None if none was).
    """

    steps: dict[int, dict[str, str]] = field(default_factory=dict)
    videos: dict[str, str] = field(default_factory=dict)
    last_step: int | None = None

    @property
    def final(self) -> dict[str, str]:
        """The PNG files of the last step (what a `final` policy wrote), or {} if that step kept none."""
        return self.steps.get(self.last_step, {}) if self.last_step is not None else {}


class FrameWriter:
    """One episode's frames: PNG files by policy and, with `video=True`, one video per view, written off-thread.

    `add` returns at once with the names the trajectory should record; a process-wide writer thread encodes and
    writes. Its queue is bounded by image bytes (`set_queue_limit`), so when the disk or the encoder cannot keep up
    `add` blocks (backpressure) instead of dropping frames or letting memory grow. Under an asyncio driver that
    blocking holds the event loop, which is the point: nothing else in the process should make more frames.

    The thread costs a world nearly nothing while the process waits or runs C code that releases the GIL (a model
    server, numpy, a renderer): 98-100% of frameless steps/s at 2-10 ms a step (benchmarks/frames_overhead.py).
    Work that holds the GIL in pure Python makes the writer win it back after each C call (about six per frame):
    54-90% at 2-10 ms a step on 2 busy cores, in the range of encoding inline (37-89% in the same runs).

    Videos get every step's frame, whatever the PNG policy: MP4 (H.264 via imageio-ffmpeg) where ffmpeg is present,
    else an animated GIF; encoded incrementally, never holding the episode's frames. A view's frames all take the
    size of its first frame: a later frame of another size is cropped or padded with black at the bottom and right
    (an MP4 also rounds odd sides up by one black row or column, as H.264's yuv420p requires).

    Args:
        episode_dir: The episode's directory; files go to `episode_dir/frames/`, created when the first is written.
        policy: A `FramePolicy` or its text (`all`, `every:N`, `final`, `none`).
        video: Also write `frames/video_<view>.<mp4|gif>` per view.
        video_fps: Frames per second of the videos.
        copy_images: Copy each image in `add`, for worlds that render into a reused buffer (see the module doc).

    Raises:
        SimyardError: `policy` is not a valid policy.
    """

    def __init__(
        self,
        episode_dir: str | Path,
        policy: FramePolicy | str = "all",
        video: bool = False,
        video_fps: float = 4.0,
        copy_images: bool = False,
    ) -> None:
        self.episode_dir = Path(episode_dir)
        self.policy = FramePolicy.parse(policy)
        self.video = video
        self.video_fps = video_fps
        self.copy_images = copy_images
        self._video_format = video_format() if video else None
        self._steps: dict[int, dict[str, str]] = {}
        self._videos: dict[str, str] = {}
        self._last: tuple[int, Mapping[str, np.ndarray]] | None = None
        self._error: BaseException | None = None  # the first failure on the writer thread
        self._sinks: dict[str, _Mp4Sink | _GifSink] = {}  # touched only on the writer thread
        self._dir_made = False
        self._result: EpisodeFrames | None = None

    def add(self, step_index: int, images: Mapping[str, np.ndarray]) -> dict[str, str]:
        """Hand over the images seen after step `step_index` (0 is the reset); returns view -> file to record.

        Returns {} for a step the policy does not keep (and for every step under `final`: `close` names the last
        step's files). Blocks only while the writer queue is full. Writing errors are not raised here but by
        `close`, so the episode itself runs on.
        """
        if self._result is not None:
            raise RuntimeError("FrameWriter.add after close")
        if not images:
            return {}
        if self.copy_images:
            images = {view: np.array(image, copy=True) for view, image in images.items()}
        self._last = (step_index, images)
        keep = self.policy.wants(step_index)
        names = {view: f"{FRAMES_DIR}/{frame_name(step_index, view)}" for view in images} if keep else {}
        if keep or self.video:
            if keep:
                self._steps[step_index] = names
            if self.video:
                for view in images:
                    self._videos.setdefault(view, f"{FRAMES_DIR}/{video_name(view, self._video_format)}")
            pngs = dict(names)
            _get_worker().submit(lambda: self._write(images, pngs, self.video), _nbytes(images))
        return names

    def close(self) -> EpisodeFrames:
        """Wait for this episode's frames (writing the `final` step's now) and finish its videos.

        Safe to call twice (the second call returns the first's answer).

        Raises:
            FrameWriteError: A file or video could not be written; the message names the first failure.
        """
        if self._result is not None:
            return self._result
        worker = _get_worker()
        if self.policy.kind == "final" and self._last is not None:
            step_index, images = self._last
            names = {view: f"{FRAMES_DIR}/{frame_name(step_index, view)}" for view in images}
            self._steps[step_index] = names
            worker.submit(lambda: self._write(images, dict(names), False), _nbytes(images))
        done = threading.Event()
        worker.submit(lambda: self._finish(done), 0, force=True)
        done.wait()
        last_step = self._last[0] if self._last is not None else None
        self._last = None  # let the images go
        self._result = EpisodeFrames(self._steps, self._videos, last_step)
        if self._error is not None:
            error = self._error
            problem = " ".join(str(error).split()) or type(error).__name__
            raise FrameWriteError(
                f"frames of {self.episode_dir} were not all written: {problem}",
                hint="check the disk has space and the run directory is writable; the trajectory is complete",
            ) from error
        return self._result

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- on the writer thread

    def _write(self, images: Mapping[str, np.ndarray], pngs: dict[str, str], video: bool) -> None:
        if self._error is not None:
            return  # one failure is enough to report; don't spend time failing again
        try:
            if not self._dir_made:
                (self.episode_dir / FRAMES_DIR).mkdir(parents=True, exist_ok=True)
                self._dir_made = True
            for view, name in pngs.items():
                (self.episode_dir / name).write_bytes(encode_png(images[view]))
            if video:
                for view, image in images.items():
                    sink = self._sinks.get(view)
                    if sink is None:
                        sink = self._sinks[view] = self._open_sink(view, _as_image(image))
                    sink.append(image)
        except Exception as exc:  # noqa: BLE001 -- surfaced by close
            self._error = exc

    def _open_sink(self, view: str, first: np.ndarray) -> _Mp4Sink | _GifSink:
        path = self.episode_dir / FRAMES_DIR / video_name(view, self._video_format)
        return (_Mp4Sink if self._video_format == "mp4" else _GifSink)(path, first, self.video_fps)

    def _finish(self, done: threading.Event) -> None:
        try:
            for sink in self._sinks.values():
                try:
                    sink.close()
                except Exception as exc:  # noqa: BLE001 -- surfaced by close
                    self._error = self._error or exc
            self._sinks.clear()
        finally:
            done.set()


def _nbytes(images: Mapping[str, Any]) -> int:
    return sum(getattr(image, "nbytes", 0) for image in images.values())
