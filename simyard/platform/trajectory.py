"""Per-episode files: `trajectory.jsonl` (reset, steps, end) and the frames beside it, and reading them back."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from simyard.platform.api import ModelCall, Observation, Task
from simyard.platform.episode import EpisodeResult, StepRecord
from simyard.platform.errors import RunDirError
from simyard.platform.frames import FrameWriter
from simyard.platform.jsonl import dumps

TRAJECTORY_FILE = "trajectory.jsonl"
EPISODES_DIR = "episodes"

class EpisodeWriter:
    """A `Recorder` that writes one episode's trajectory (and frames) into its episode directory.

    `trajectory.jsonl` gets a `reset` line (task, seed, first observation), one `step` line per executed step and,
    when the episode ends, an `end` line holding the `EpisodeResult` (and the final frame and videos, when written).
    Lines are buffered and never fsynced: a step costs one `json.dumps` of a small dict and a buffered write (the
    results index is what must survive a crash). The buffer is flushed after a step when `flush_interval_s` has
    passed since the last flush, so a viewer of a run being written sees slow episodes step by step. Frames go to
    the frames module, which encodes them on its writer thread; each step line names the files of its frames. Model
    replies longer than `reply_cap` characters are cut there, with their full length kept in `reply_chars`.

    Args:
        episode_dir: The episode's directory; created, and emptied first if a crashed attempt left files in it.
        save_frames: Old switch: False is `frames="none"`, True is `frames="all"`.
        frames: `all`, `every:N`, `final`, `none`, or `auto` (all when the reset observation has images).
        video: Also write one video per view (`frames/video_rgb.mp4`).
        reply_cap: Characters of each model reply kept.

    Attributes:
        parent: Set before the episode starts to record, in the `reset` line, the episode and step it was forked
            from (see `platform.fork`).

    A step whose agent notes say who chose it (`info["agent"]["by"]`: `human` for a person who took over from a
    model, `replay` for a step replayed from a parent episode) repeats that as the step line's `by`.
    """

    #: Seconds between flushes of the trajectory's buffer at most (a fast world flushes once per 64 KiB instead).
    flush_interval_s = 1.0

    def __init__(self, episode_dir: Path, save_frames: bool | None = None, *, frames: str | None = None,
                 video: bool = False, reply_cap: int = 65536) -> None:
        self.episode_dir = Path(episode_dir)
        if frames is None or frames == "auto":
            frames = "auto" if save_frames is None else ("all" if save_frames else "none")
        self.frames_policy = frames
        self.video = video
        self.reply_cap = reply_cap
        self.result: EpisodeResult | None = None
        self.parent: dict[str, Any] | None = None
        self._handle: Any = None
        self._frames: FrameWriter | None = None
        self._flushed_at = 0.0

    def start(self, task: Task, seed: int | None, observation: Observation) -> None:
        self._open()
        policy = self.frames_policy
        if policy == "auto":
            policy = "all" if observation.images else "none"
        if observation.images and (policy != "none" or self.video):
            self._frames = FrameWriter(self.episode_dir, policy, video=self.video)
        line = {"type": "reset", "task": task.model_dump(mode="json"), "seed": seed,
                "observation": self._observation(0, observation)}
        if self.parent is not None:
            line["parent"] = self.parent
        self._handle.write(dumps(line) + "\n")

    def step(self, record: StepRecord) -> None:
        line = {
            "type": "step",
            "index": record.index,
            "observation": self._observation(record.index, record.observation),
            "action": record.action,
            "reward": record.reward,
            "terminated": record.terminated,
            "truncated": record.truncated,
            "info": dict(record.info),
            "calls": [self._call(call) for call in record.calls],
            "act_latency_s": record.act_latency_s,
        }
        notes = record.info.get("agent")
        if isinstance(notes, dict) and isinstance(notes.get("by"), str):
            line["by"] = notes["by"]
        self._handle.write(dumps(line) + "\n")
        now = time.monotonic()
        if now - self._flushed_at >= self.flush_interval_s:
            self._handle.flush()
            self._flushed_at = now

    def finish(self, result: EpisodeResult) -> None:
        if self._handle is None:
            # The world failed before the first observation; a header line keeps the episode replayable.
            self._open()
            assert self._handle is not None
            header = {"type": "reset", "task": {"id": result.task_id, "world": result.world, "subset": result.subset},
                      "seed": result.seed,
                      "observation": {"text": f"(no observation: {result.error or result.reason})", "data": {}}}
            self._handle.write(dumps(header) + "\n")
        end: dict[str, Any] = {"type": "end", "result": result.to_dict()}
        if self._frames is not None:
            try:
                written = self._frames.close()
                if self.frames_policy == "final" and written.final:
                    end["final_frames"] = written.final
                if written.videos:
                    end["videos"] = written.videos
            except Exception as exc:  # the episode happened; a lost frame file must not lose its record
                end["frames_error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._frames = None
        # The result is the trajectory's last line rather than a file of its own: creating a file is the dearest
        # thing the recorder does, so each episode creates exactly one.
        self._handle.write(dumps(end) + "\n")
        self.result = result
        self.close()

    def close(self) -> None:
        """Flush and close the trajectory file, waiting for frames still being written (safe to call twice)."""
        if self._frames is not None:
            try:
                self._frames.close()
            except Exception:
                pass  # reported by finish() when the episode ended normally; here the episode is being abandoned
            self._frames = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> None:
        try:
            self.episode_dir.mkdir(parents=True)  # tried first: a stat beforehand would cost every episode
        except FileExistsError:
            shutil.rmtree(self.episode_dir)  # leftovers of an attempt that never reached the index
            self.episode_dir.mkdir()
        self._handle = (self.episode_dir / TRAJECTORY_FILE).open("w", encoding="utf-8", buffering=1 << 16)
        self._flushed_at = time.monotonic()

    def _observation(self, index: int, observation: Observation) -> dict[str, Any]:
        entry: dict[str, Any] = {"text": observation.text, "data": dict(observation.data)}
        if self._frames is not None and observation.images:
            names = self._frames.add(index, observation.images)
            if names:
                entry["frames"] = list(names.values())
        return entry

    def _call(self, call: ModelCall) -> dict[str, Any]:
        data = call.to_dict()
        text = data.get("text")
        if isinstance(text, str) and len(text) > self.reply_cap:
            data["text"] = text[: self.reply_cap]
            data["reply_chars"] = len(text)
        return data

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_trajectory(episode_dir: str | Path) -> list[dict[str, Any]]:
    """The lines of an episode's trajectory: the `reset` line first, then one `step` line per executed step.

    Each line has an `observation` object (`text`, `data`, and `frames`: PNG paths relative to the episode
    directory, when saved). The `end` line is left out (`read_episode_result` reads it). A torn final line (the
    process died mid-write) is ignored.

    Raises:
        RunDirError: `episode_dir` holds no trajectory, or a line before the last is damaged.
    """
    return [entry for entry in _trajectory_lines(Path(episode_dir)) if entry.get("type") != "end"]


def read_episode_result(episode_dir: str | Path) -> EpisodeResult | None:
    """The result an episode directory recorded, or None if the episode never finished."""
    for entry in reversed(_trajectory_lines(Path(episode_dir))):
        if entry.get("type") == "end" and isinstance(entry.get("result"), dict):
            try:
                return EpisodeResult.from_dict(entry["result"])
            except (TypeError, ValueError):
                raise RunDirError(f"{Path(episode_dir) / TRAJECTORY_FILE}: its end line is not a result",
                                  hint="the trajectory was edited or damaged") from None
    return None


def _trajectory_lines(episode_dir: Path) -> list[dict[str, Any]]:
    path = episode_dir / TRAJECTORY_FILE
    if not path.is_file():
        raise RunDirError(
            f"{episode_dir} is not an episode directory (it has no {TRAJECTORY_FILE})",
            hint=f"episode directories live in <run>/{EPISODES_DIR}/ and are named <task_id>__s<seed>",
        )
    lines = path.read_bytes().split(b"\n")
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line.decode("utf-8"))
            if not isinstance(entry, dict):
                raise ValueError("not a JSON object")
            entries.append(entry)
        except (ValueError, UnicodeDecodeError):
            if number == len(lines):
                break  # a torn last line: the process died mid-write
            hint = "the trajectory was edited or damaged"
            raise RunDirError(f"{path}:{number} is not a JSON object in UTF-8", hint=hint) from None
    return entries
