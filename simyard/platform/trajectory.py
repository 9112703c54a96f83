"""Per-episode files: `trajectory.jsonl` (reset, steps, end) and the frames beside it, and reading them back."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from simyard.platform.api import Observation, Task
from simyard.platform.episode import EpisodeResult, StepRecord
from simyard.platform.errors import RunDirError
from simyard.platform.jsonl import dumps

TRAJECTORY_FILE = "trajectory.jsonl"
FRAMES_DIR = "frames"
EPISODES_DIR = "episodes"

class EpisodeWriter:
    """A `Recorder` that writes one episode's trajectory (and frames) into its episode directory.

    `trajectory.jsonl` gets a `reset` line (task, seed, first observation), one `step` line per executed step and,
    when the episode ends, an `end` line holding the `EpisodeResult`. Lines are buffered and never fsynced: a step costs
    one `json.dumps` of a small dict and a buffered write (the results index is what must survive a crash). Frames
    cost a PNG encode each, which is why they can be switched off.

    Args:
        episode_dir: The episode's directory; created, and emptied first if a crashed attempt left files in it.
        save_frames: Save observation images as PNG files; None saves them when the reset observation has any.
    """

    def __init__(self, episode_dir: Path, save_frames: bool | None = None) -> None:
        self.episode_dir = Path(episode_dir)
        self.save_frames = save_frames
        self.result: EpisodeResult | None = None
        self._handle: Any = None

    def start(self, task: Task, seed: int | None, observation: Observation) -> None:
        self._open()
        if self.save_frames is None:
            self.save_frames = bool(observation.images)
        line = {"type": "reset", "task": task.model_dump(mode="json"), "seed": seed,
                "observation": self._observation(0, observation)}
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
            "calls": [call.to_dict() for call in record.calls],
            "act_latency_s": record.act_latency_s,
        }
        self._handle.write(dumps(line) + "\n")

    def finish(self, result: EpisodeResult) -> None:
        if self._handle is None:
            # The world failed before the first observation; a header line keeps the episode replayable.
            self._open()
            header = {"type": "reset", "task": {"id": result.task_id, "world": result.world, "subset": result.subset},
                      "seed": result.seed,
                      "observation": {"text": f"(no observation: {result.error or result.reason})", "data": {}}}
            self._handle.write(dumps(header) + "\n")
        # The result is the trajectory's last line rather than a file of its own: creating a file is the dearest
        # thing the recorder does, so each episode creates exactly one.
        self._handle.write(dumps({"type": "end", "result": result.to_dict()}) + "\n")
        self.result = result
        self.close()

    def close(self) -> None:
        """Flush and close the trajectory file (safe to call twice)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> None:
        if self.episode_dir.exists():
            shutil.rmtree(self.episode_dir)  # leftovers of an attempt that never reached the index
        self.episode_dir.mkdir(parents=True)
        self._handle = (self.episode_dir / TRAJECTORY_FILE).open("w", encoding="utf-8", buffering=1 << 16)

    def _observation(self, index: int, observation: Observation) -> dict[str, Any]:
        entry: dict[str, Any] = {"text": observation.text, "data": dict(observation.data)}
        if self.save_frames and observation.images:
            entry["frames"] = self._save_frames(index, observation.images)
        return entry

    def _save_frames(self, index: int, images: Mapping[str, np.ndarray]) -> list[str]:
        from PIL import Image

        frames = self.episode_dir / FRAMES_DIR
        frames.mkdir(exist_ok=True)
        names = []
        for view, array in images.items():
            name = f"{FRAMES_DIR}/{frame_name(index, view)}"
            # compress_level=1: frames are written while the episode runs; size matters less than time here.
            Image.fromarray(np.asarray(array, dtype=np.uint8)).save(self.episode_dir / name, compress_level=1)
            names.append(name)
        return names

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def frame_name(index: int, view: str) -> str:
    """`step_0003_rgb.png`: the image from `view` after step `index` (0 is the reset)."""
    return f"step_{index:04d}_{view}.png"


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
        if entry.get("type") == "end":
            return EpisodeResult.from_dict(entry["result"])
    return None


def _trajectory_lines(episode_dir: Path) -> list[dict[str, Any]]:
    path = episode_dir / TRAJECTORY_FILE
    if not path.is_file():
        raise RunDirError(
            f"{episode_dir} is not an episode directory (it has no {TRAJECTORY_FILE})",
            hint=f"episode directories live in <run>/{EPISODES_DIR}/ and are named <task_id>__s<seed>",
        )
    lines = path.read_text(encoding="utf-8").split("\n")
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            hint = "the trajectory was edited or damaged"
            raise RunDirError(f"{path}:{number} is not valid JSON", hint=hint) from None
    return entries

