"""Trajectories as ATIF, the Agent Trajectory Interchange Format that Harbor defines (ATIF-v1.6).

One JSON file per episode, `<out>/<task>__s<seed>/trajectory.json`, with the frames the agent saw copied (hard-linked
where the file system allows) beside it under `frames/` and referenced by that relative path, so the export is a
folder that can be moved or shared on its own. How a simyard episode maps onto ATIF's steps:

- step 1, source `user`: the task's instruction, then the first observation (its text and frames) as content parts;
- one step per executed simyard step, source `agent`: `message` is the model's reply (empty for agents without a
  model, and for the later actions of a plan, whose reply belongs to the plan's first step); the action is one tool
  call `act` with `{"action": ...}` (none when the reply held no usable action); `observation` holds what the world
  answered (text and frames) tied to that call; `metrics` carry the model call's token counts, cost, sampled token
  ids and log-probabilities; `extra` keeps simyard's own step fields (reward, terminated, truncated, info);
- `final_metrics`: token and cost totals, the step count, and the episode's result under `extra`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simyard.platform.export import ExportError, ExportReport
from simyard.platform.export.readable import readable_results, readable_trajectory
from simyard.platform.export.target import reason
from simyard.platform.rundir import RunDir, episode_dir_name

#: The ATIF version these files declare.
SCHEMA_VERSION = "ATIF-v1.6"
TRAJECTORY_NAME = "trajectory.json"
#: Where replies keep their reasoning: RAGEN's `<think>` block, EmbodiedBench's JSON key.
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_REASONING_KEY = "reasoning_and_reflection"
_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                ".webp": "image/webp"}


def export_atif(run: RunDir, out: Path, progress: Callable[[int, int], None] | None = None,
                label: str | None = None) -> ExportReport:
    """Write one ATIF trajectory per recorded episode of `run` under the folder `out` (new or empty).

    `progress(done, total)` is called after each episode. Session ids are `<label>/<episode>`, the label being the
    run's folder name unless given (a matrix arm's is `<matrix>/<arm>`).
    """
    _prepare_folder(out)
    report = ExportReport(out=out)
    results, report.skipped = readable_results(run)
    manifest = run.manifest
    agent = _agent(manifest)
    for number, result in enumerate(results, start=1):
        if progress is not None:
            progress(number - 1, len(results))
        name = episode_dir_name(result.task_id, result.seed)
        lines, problem = readable_trajectory(run.episode_dir(result.task_id, result.seed))
        if lines is None:
            report.skipped.append(f"{name}: {problem}")
            continue
        episode_out = out / name
        frames = _FrameCopier(run.episode_dir(result.task_id, result.seed), episode_out)
        document = episode_document(lines, result.to_dict(), agent, f"{label or run.path.name}/{name}", frames)
        try:
            episode_out.mkdir(exist_ok=True)
            (episode_out / TRAJECTORY_NAME).write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n",
                                                       encoding="utf-8")
        except OSError as exc:
            raise ExportError(f"cannot write {episode_out / TRAJECTORY_NAME}: {reason(exc)}",
                              hint="pick an --out folder you can write to") from None
        report.written += 1
        report.frames += frames.copied
        report.skipped.extend(f"{name}: {line}" for line in frames.missing)
    return report


def episode_document(lines: list[dict[str, Any]], result: dict[str, Any], agent: dict[str, Any], session_id: str,
                     frames: Any = None) -> dict[str, Any]:
    """One episode's ATIF trajectory (a JSON-ready dict) from its trajectory lines and its result row.

    `frames` places frame files and answers their path in the export (`_FrameCopier`); None references them by
    their path in the episode directory.
    """
    place = frames.place if frames is not None else (lambda path: path)
    reset = next((line for line in lines if line.get("type") == "reset"), {})
    task = reset.get("task") or {}
    first = reset.get("observation") or {}
    steps: list[dict[str, Any]] = [{
        "step_id": 1,
        "source": "user",
        "message": _content([str(task.get("instruction") or ""), str(first.get("text") or "")],
                            first.get("frames"), place),
        "extra": {"task": task, "seed": reset.get("seed")},
    }]
    totals = {"prompt": 0, "completion": 0, "cost": 0.0, "priced": False}
    for line in lines:
        if line.get("type") != "step":
            continue
        steps.append(_agent_step(len(steps) + 1, line, place, totals))
    end = next((line for line in reversed(lines) if line.get("type") == "end"), None)
    final_extra: dict[str, Any] = {"result": result}
    if end is not None and end.get("final_frames"):
        final_extra["final_frames"] = {view: place(path) for view, path in end["final_frames"].items()}
    final: dict[str, Any] = {
        "total_prompt_tokens": totals["prompt"],
        "total_completion_tokens": totals["completion"],
        "total_steps": len(steps),
        "extra": final_extra,
    }
    if totals["priced"]:
        final["total_cost_usd"] = totals["cost"]
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "session_id": session_id,
        "agent": agent,
        "steps": steps,
        "notes": "Exported by simyard: step 1 is the task and first observation; each agent step is one executed "
                 "action (tool call `act`) with the world's answer as its observation. A step's extra.by says who "
                 "chose it when the agent did not: `human` (a person took over) or `replay` (a fork replaying "
                 "its parent); extra.parent names the episode and step a fork started from.",
        "final_metrics": final,
    }
    if isinstance(reset.get("parent"), dict):
        document["extra"] = {"parent": reset["parent"]}
    return document


def _agent_step(step_id: int, line: dict[str, Any], place: Any, totals: dict[str, Any]) -> dict[str, Any]:
    calls = [call for call in line.get("calls") or [] if isinstance(call, dict)]
    observation = line.get("observation") or {}
    call_id = f"call_{line.get('index', step_id - 1)}"
    step: dict[str, Any] = {
        "step_id": step_id,
        "source": "agent",
        "message": "\n\n".join(str(call.get("text") or "") for call in calls),
    }
    reasoning = _reasoning(step["message"])
    if reasoning:
        step["reasoning_content"] = reasoning
    action = line.get("action")
    results: dict[str, Any] = {"content": _content([str(observation.get("text") or "")], observation.get("frames"),
                                                   place)}
    if action is not None:
        step["tool_calls"] = [{"tool_call_id": call_id, "function_name": "act", "arguments": {"action": action}}]
        results["source_call_id"] = call_id
    step["observation"] = {"results": [results]}
    if calls:
        step["metrics"] = _metrics(calls, totals)
    step["extra"] = {key: line.get(key) for key in ("index", "reward", "terminated", "truncated", "info",
                                                     "act_latency_s")}
    if isinstance(line.get("by"), str):
        step["extra"]["by"] = line["by"]
    return step


def _reasoning(reply: str) -> str | None:
    """The reasoning a reply spells out (the `<think>` blocks of RAGEN's format, or EmbodiedBench's
    `reasoning_and_reflection`), or None; the reply itself stays whole in `message`."""
    blocks = [block.strip() for block in _THINK.findall(reply)]
    if any(blocks):
        return "\n\n".join(block for block in blocks if block)
    if _REASONING_KEY in reply:
        try:
            parsed = json.loads(reply[reply.index("{"): reply.rindex("}") + 1])
        except ValueError:
            return None
        value = parsed.get(_REASONING_KEY) if isinstance(parsed, dict) else None
        return value if isinstance(value, str) and value.strip() else None
    return None


def _metrics(calls: list[dict[str, Any]], totals: dict[str, Any]) -> dict[str, Any]:
    """ATIF's per-step metrics from the step's model calls (usually one; several are summed, token ids joined)."""
    metrics: dict[str, Any] = {}
    prompt = [call["prompt_tokens"] for call in calls if isinstance(call.get("prompt_tokens"), int)]
    completion = [call["completion_tokens"] for call in calls if isinstance(call.get("completion_tokens"), int)]
    costs = [call["cost_usd"] for call in calls if isinstance(call.get("cost_usd"), (int, float))]
    if prompt:
        metrics["prompt_tokens"] = sum(prompt)
        totals["prompt"] += sum(prompt)
    if completion:
        metrics["completion_tokens"] = sum(completion)
        totals["completion"] += sum(completion)
    if costs:
        metrics["cost_usd"] = float(sum(costs))
        totals["cost"] += float(sum(costs))
        totals["priced"] = True
    if all(call.get("token_ids") is not None for call in calls):
        metrics["completion_token_ids"] = [token for call in calls for token in call["token_ids"]]
    if all(call.get("logprobs") is not None for call in calls):
        metrics["logprobs"] = [value for call in calls for value in call["logprobs"]]
    metrics["extra"] = {key: [call.get(key) for call in calls]
                        for key in ("latency_s", "finish_reason", "retries", "reply_chars")}
    return metrics


def _content(texts: list[str], frames: Any, place: Any) -> str | list[dict[str, Any]]:
    """A plain string when there are no frames, else ATIF content parts: the texts, then one image part a frame."""
    texts = [text for text in texts if text]
    paths = [place(path) for path in frames or [] if isinstance(path, str)]
    paths = [path for path in paths if path is not None]
    if not paths:
        return "\n\n".join(texts)
    parts: list[dict[str, Any]] = [{"type": "text", "text": text} for text in texts]
    for path in paths:
        media = _MEDIA_TYPES.get(Path(path).suffix.lower(), "image/png")
        parts.append({"type": "image", "source": {"media_type": media, "path": path}})
    return parts


def _agent(manifest: Any) -> dict[str, Any]:
    from simyard._version import __version__

    config = manifest.config
    agent: dict[str, Any] = {"name": f"simyard/{config.agent}", "version": manifest.simyard_version or __version__}
    model = config.agent_options.get("model")
    if isinstance(model, str) and model:
        agent["model_name"] = model
    agent["extra"] = {"agent_options": config.agent_options, "suite": config.suite, "seed": config.seed}
    return agent


def _prepare_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file", hint="ATIF exports are folders (one trajectory.json per episode); "
                                                   "give --out a new or empty folder")
    try:
        if out.is_dir() and any(out.iterdir()):
            raise ExportError(f"{out} is not empty", hint="give --out a new or empty folder, so no file is overwritten")
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".simyard-write-check"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ExportError(f"cannot write to {out}: {reason(exc)}",
                          hint="pick an --out folder you can write to") from None


class _FrameCopier:
    """Places an episode's frame files in the export (a hard link, else a copy) and remembers what was missing."""

    def __init__(self, source: Path, target: Path) -> None:
        self.source, self.target = source, target
        self.copied = 0
        self.missing: list[str] = []
        self._done: dict[str, str | None] = {}

    def place(self, path: str) -> str | None:
        if path in self._done:
            return self._done[path]
        origin = self.source / path
        placed: str | None = path
        if Path(path).is_absolute() or ".." in Path(path).parts or not origin.is_file():
            self.missing.append(f"frame {path} is missing; its image is left out")
            placed = None
        else:
            destination = self.target / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(origin, destination)
            except OSError:
                shutil.copyfile(origin, destination)
            self.copied += 1
        self._done[path] = placed
        return placed
