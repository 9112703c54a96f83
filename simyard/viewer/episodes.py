"""One episode as the replay page shows it: steps with their frames, action, feedback, reward, progress and replies.

Frames are checked here (present, a PNG, not cut short) so that a missing or damaged file is named on the page rather
than shown as a blank; the images themselves are fetched by the page one step at a time.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from simyard.platform.errors import RunDirError
from simyard.platform.frames import FRAMES_DIR
from simyard.platform.trajectory import TRAJECTORY_FILE, read_episode_result, read_trajectory

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk's type and CRC: the last 8 bytes of every complete PNG
_FRAME_NAME = re.compile(r"step_\d+_(?P<view>.+)\.png$")
_THINK = re.compile(r"<think>(?P<reasoning>.*?)(?:</think>|$)", re.S)

#: Characters of an observation's text, a reply or an info dump sent to the page; longer ones are cut and say so.
TEXT_CAP = 20_000


def episode_page(episode_dir: Path, run_label: str) -> dict[str, Any]:
    """The replay of one episode: its task, result, steps and notes on anything skipped or damaged.

    Raises:
        RunDirError: The directory has no trajectory.
    """
    notes: list[str] = []
    lines = _read_lines(episode_dir, notes)
    try:
        result = read_episode_result(episode_dir)
    except RunDirError as exc:
        result = None
        notes.append(str(exc))
    reset = lines[0] if lines and lines[0].get("type") == "reset" else {}
    task = reset.get("task") if isinstance(reset.get("task"), dict) else {}
    end = _end_line(episode_dir)
    if end.get("frames_error"):
        notes.append(f"frames were not all written: {end['frames_error']}")
    final = end.get("final_frames")
    if isinstance(final, dict) and final and len(lines) > 0:
        # the `final` frame policy names the last step's files only in the end line
        observation = lines[-1].setdefault("observation", {})
        if isinstance(observation, dict) and not observation.get("frames"):
            observation["frames"] = [str(name) for name in final.values()]
    steps = [_step(entry, episode_dir, notes) for entry in lines if entry.get("type") in ("reset", "step")]
    total = 0.0
    for step in steps:
        total += step["reward"] or 0.0
        step["return"] = total
    return {
        "name": episode_dir.name,
        "run": run_label,
        "path": str(episode_dir.resolve()),
        "task": {"id": task.get("id", ""), "world": task.get("world", ""), "subset": task.get("subset", ""),
                 "instruction": _cap(str(task.get("instruction") or ""))},
        "seed": reset.get("seed"),
        "result": result.to_dict() if result is not None else None,
        "steps": steps,
        "notes": notes,
        "fork": fork_command(episode_dir),
        "parent": reset.get("parent") if isinstance(reset.get("parent"), dict) else None,
        "human_steps": [step["index"] for step in steps if step["by"] == "human"],
    }


def fork_command(episode_dir: Path) -> dict[str, str]:
    """The parts of `simyard episode run --from EPISODE_DIR --step K --agent AGENT`; the page fills in K and AGENT."""
    return {"prefix": f"simyard episode run --from {shlex.quote(str(episode_dir.resolve()))}"}


def frame_problem(path: Path) -> str | None:
    """What is wrong with a frame file (missing, empty, not a PNG, cut short), or None when it looks whole.

    Reads the first and last 8 bytes only: a 30-step episode is checked in well under a millisecond.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            size = handle.seek(0, 2)
            handle.seek(max(0, size - 8))
            tail = handle.read(8)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or type(exc).__name__})"
    if size == 0:
        return "empty file"
    if head != _PNG_SIGNATURE:
        return "not a PNG file"
    if tail != _PNG_END:
        return "cut short (no PNG end chunk)"
    return None


def _read_lines(episode_dir: Path, notes: list[str]) -> list[dict[str, Any]]:
    """The trajectory through the platform's reader; line by line, skipping and naming damaged lines, when the
    reader refuses the file. A half-written last line is named too (the reader drops it silently)."""
    path = episode_dir / TRAJECTORY_FILE
    try:
        data = path.read_bytes()
    except OSError:
        read_trajectory(episode_dir)  # raises the platform's one-line RunDirError
        raise
    tail = data[data.rfind(b"\n") + 1:]
    if tail.strip() and _parse(tail) is None:
        notes.append(f"{TRAJECTORY_FILE}: skipped a half-written last line ({len(tail)} bytes; a crash, or the "
                     f"episode is being written now)")
    try:
        return read_trajectory(episode_dir)
    except RunDirError:
        pass
    entries = []
    raw = data.split(b"\n")
    for number, line in enumerate(raw, start=1):
        if not line.strip() or number == len(raw):
            continue
        entry = _parse(line)
        if entry is None:
            notes.append(f"{TRAJECTORY_FILE}:{number}: skipped a damaged line")
        elif entry.get("type") != "end":
            entries.append(entry)
    return entries


def _end_line(episode_dir: Path) -> dict[str, Any]:
    """The trajectory's `end` line ({} while the episode runs): it names `final` frames and frame write errors."""
    try:
        with (episode_dir / TRAJECTORY_FILE).open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - (1 << 16)))
            tail = handle.read().rstrip(b"\n")
    except OSError:
        return {}
    entry = _parse(tail[tail.rfind(b"\n") + 1:])
    return entry if entry is not None and entry.get("type") == "end" else {}


def _step(entry: dict[str, Any], episode_dir: Path, notes: list[str]) -> dict[str, Any]:
    observation = entry.get("observation") if isinstance(entry.get("observation"), dict) else {}
    info = entry.get("info") if isinstance(entry.get("info"), dict) else {}
    frames = []
    for name in observation.get("frames") or []:
        name = str(name)
        match = _FRAME_NAME.search(name)
        inside = not Path(name).is_absolute() and ".." not in Path(name).parts
        problem = frame_problem(episode_dir / name) if inside else "outside the episode directory"
        frames.append({"file": name, "view": match["view"] if match else name, "problem": problem})
        if problem:
            notes.append(f"step {entry.get('index', 0)}: frame {name} is {problem}")
    calls = [_call(call) for call in entry.get("calls") or [] if isinstance(call, dict)]
    rest = {key: value for key, value in info.items() if key not in ("valid", "feedback", "progress", "success")}
    notes_by_agent = info.get("agent") if isinstance(info.get("agent"), dict) else {}
    return {
        "index": entry.get("index", 0),
        "kind": entry.get("type"),
        "observation": _cap(str(observation.get("text") or "")),
        "frames": frames,
        "action": None if entry.get("type") == "reset" else _cap(_shown(entry.get("action"))),
        "reward": _number(entry.get("reward")),
        "valid": info.get("valid"),
        "feedback": _cap(str(info.get("feedback") or "")),
        "progress": _number(info.get("progress")),
        "success": info.get("success"),
        "terminated": bool(entry.get("terminated")),
        "truncated": bool(entry.get("truncated")),
        "info": _cap(json.dumps(rest, ensure_ascii=False, default=str)) if rest else "",
        "calls": calls,
        "act_latency_s": _number(entry.get("act_latency_s")),
        # who chose the step when not the agent: `human` (took over) or `replay` (a fork replaying its parent)
        "by": entry.get("by") if isinstance(entry.get("by"), str) else None,
        "parent_step": notes_by_agent.get("parent_step"),
        "proposed": _cap(_shown(notes_by_agent["proposed"])) if "proposed" in notes_by_agent else None,
    }


def _call(call: dict[str, Any]) -> dict[str, Any]:
    text = str(call.get("text") or "")
    reasoning, reply = split_reasoning(text)
    return {
        "reply": _cap(reply),
        "reasoning": _cap(reasoning),
        "prompt_tokens": call.get("prompt_tokens"),
        "completion_tokens": call.get("completion_tokens"),
        "latency_s": _number(call.get("latency_s")),
        "finish_reason": call.get("finish_reason"),
        "reply_chars": call.get("reply_chars"),
        "cost_usd": call.get("cost_usd"),
        "retries": call.get("retries", 0),
    }


def split_reasoning(text: str) -> tuple[str, str]:
    """(reasoning, the rest) of a reply: RAGEN's `<think>...</think>`, or EmbodiedBench's JSON with
    `reasoning_and_reflection`; ("", text) when the reply has neither."""
    match = _THINK.search(text)
    if match:
        return match["reasoning"].strip(), (text[:match.start()] + text[match.end():]).strip()
    stripped = text.strip()
    if stripped.startswith("{") and "reasoning" in stripped:
        try:
            data = json.loads(stripped)
        except ValueError:
            return "", text
        if isinstance(data, dict):
            for key in ("reasoning_and_reflection", "reasoning"):
                if isinstance(data.get(key), str):
                    return data[key], text
    return "", text


def frame_path(episode_dir: Path, name: str) -> Path | None:
    """The file of a frame named by the page, or None when the name would leave the episode's frames folder."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts or relative.parts[0] != FRAMES_DIR:
        return None
    return episode_dir / relative


def _shown(action: Any) -> str:
    return action if isinstance(action, str) else json.dumps(action, ensure_ascii=False, default=str)


def _cap(text: str) -> str:
    if len(text) <= TEXT_CAP:
        return text
    return text[:TEXT_CAP] + f"\n… ({len(text) - TEXT_CAP} more characters not shown)"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
