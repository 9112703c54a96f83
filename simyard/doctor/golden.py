"""Golden episodes: oracle trajectories recorded once, replayed here to prove this install behaves the same.

A golden is one JSON file in `golden/` (made by `python -m simyard.doctor.make_golden`): the world, its options,
the task, the reset seed, the GL stack that drew its frames, and per step the action, reward, flags, feedback and
frame fingerprints, then the final state. `play` rebuilds the world, replays the recorded actions (not the oracle:
the question is whether the world answers as it did) and compares every field. Each difference names the
episode, the step and the field. Numbers compare within `NUMBER_TOLERANCE`, so the last bits of a float (another
CPU, another numpy) are not a failure; frames compare exactly when the GL stack matches the recording's, else by
thumbnail (see `frames.py`), and the result says which comparison was used.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from importlib import resources as package_files
from pathlib import Path
from typing import Any

from simyard.doctor.frames import THUMB_TOLERANCE, fingerprint, thumb_difference
from simyard.platform.errors import SimyardError

FORMAT = 1
#: Absolute and relative tolerance for rewards, progress and numbers in the final state.
NUMBER_TOLERANCE = 1e-6

#: What a golden's `needs` may name, and the fix the player suggests when that part misbehaves.
NEED_FIXES = {
    "render": "check MuJoCo rendering: `apt-get install libosmesa6` (CPU) or a GPU driver with EGL; "
    "`pip install -U 'mujoco==<the golden's version>'` if the version differs",
    "franka": "`pip install 'simyard[manip]'` (gymnasium-robotics brings the Panda model)",
    "bwrap": "`apt-get install bubblewrap` and allow user namespaces",
    "git": "`apt-get install git`",
}
_WORLD_FIX = ("reinstall simyard (`pip install -e .`) or regenerate the goldens if the world changed on purpose "
              "(`python -m simyard.doctor.make_golden`)")


class GoldenError(SimyardError):
    """A golden file that cannot be read: missing, not JSON, or not a golden of this format."""


@dataclass(frozen=True)
class Difference:
    """One field that differs from the golden: where, what was recorded, what this install gave."""

    step: int | None  # None for the reset or the final state
    field: str
    expected: Any
    got: Any

    def describe(self) -> str:
        where = "reset" if self.step == 0 else "final" if self.step is None else f"step {self.step}"
        return f"{where}: {self.field}: expected {_short(self.expected)}, got {_short(self.got)}"


@dataclass
class GoldenResult:
    """The outcome of replaying one golden: `passed`, `failed` or `skipped` (with the reason)."""

    name: str
    world: str
    status: str
    steps: int = 0
    comparison: str = ""
    reason: str = ""
    fix: str = ""
    differences: list[Difference] = field(default_factory=list)
    seconds: float = 0.0
    #: The largest thumbnail difference seen (0-255) when frames were compared by thumbnail.
    frame_gap: float = 0.0


# ------------------------------------------------------------------------------------------------- golden files


def golden_dir() -> Path:
    """The folder of the goldens shipped with the package."""
    return Path(str(package_files.files("simyard.doctor") / "golden"))


def load_golden(path: Path) -> dict[str, Any]:
    """Read one golden file. Raises `GoldenError` naming the file when it is not a golden of this format."""
    try:
        golden = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GoldenError(f"cannot read golden {path}: {exc}", hint="regenerate with python -m "
                          "simyard.doctor.make_golden") from exc
    if not isinstance(golden, dict) or golden.get("format") != FORMAT:
        raise GoldenError(f"{path} is not a golden of format {FORMAT}",
                          hint="regenerate with python -m simyard.doctor.make_golden")
    missing = [key for key in _KEYS if key not in golden]
    if missing:
        raise GoldenError(f"golden {path} lacks {', '.join(missing)}",
                          hint="regenerate with python -m simyard.doctor.make_golden")
    return golden


_KEYS = ("name", "world", "quick", "needs", "made_with", "world_options", "seed", "task", "reset", "steps", "final")


def load_goldens(folder: Path | None = None) -> list[dict[str, Any]]:
    """Every golden in `folder` (the shipped ones by default), by file name.

    Raises:
        GoldenError: the folder holds no golden files, or one cannot be read.
    """
    folder = Path(folder) if folder is not None else golden_dir()
    if not folder.is_dir():
        raise GoldenError(f"{folder} is not a folder" if folder.exists() else f"{folder} does not exist",
                          hint="pass --goldens a folder of golden files, made with "
                               "python -m simyard.doctor.make_golden --out DIR")
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise GoldenError(f"no golden files (*.json) in {folder}",
                          hint="write some with python -m simyard.doctor.make_golden --out DIR")
    return [load_golden(path) for path in paths]


# ------------------------------------------------------------------------------------------------------ stepping


def _step_record(result: Any, action: Any) -> dict[str, Any]:
    from simyard.platform.episode import jsonable_action

    info = result.info
    return {
        "action": jsonable_action(action),
        "reward": float(result.reward),
        "terminated": bool(result.terminated),
        "truncated": bool(result.truncated),
        "valid": bool(info.get("valid", True)),
        "success": bool(info.get("success", False)),
        "progress": float(info.get("progress", 0.0)),
        "feedback": str(info.get("feedback", "")),
        "frames": _frames(result.observation),
    }


def _frames(observation: Any) -> dict[str, Any]:
    return {view: fingerprint(image) for view, image in sorted(observation.images.items())}


def _jsonable_state(state: Any) -> Any:
    return json.loads(json.dumps(state, default=str))


def record(world: str, task: Any, seed: int, world_options: dict[str, Any]) -> dict[str, Any]:
    """Play `task` with the world's oracle and return the golden's body (reset, steps, final)."""
    from simyard.platform.episode import as_decision
    from simyard.platform.registry import make
    from simyard.platform.resources import Resources

    with Resources("doctor") as resources:
        env = make(world, resources=resources, **world_options)
        try:
            observation = env.reset(task, seed)
            steps: list[dict[str, Any]] = []
            done = False
            while not done and len(steps) < task.max_steps:
                plan = as_decision(env.oracle(), env.action_spec()).actions
                if not plan:
                    raise SimyardError(f"the {world} oracle gave no action for {task.id}", hint="pick another task")
                for action in plan:
                    result = env.step(action)
                    steps.append(_step_record(result, action))
                    done = result.terminated or result.truncated or len(steps) >= task.max_steps
                    if done or not steps[-1]["valid"]:
                        break
            state = _jsonable_state(env.state())
        finally:
            env.close()
    return {
        "reset": {"frames": _frames(observation)},
        "steps": steps,
        "final": {"success": steps[-1]["success"] if steps else False, "steps": len(steps), "state": state},
    }


# ------------------------------------------------------------------------------------------------------- playing


def play(golden: dict[str, Any], stack: dict[str, Any] | None) -> GoldenResult:
    """Replay `golden`'s actions on a fresh world and compare every recorded field.

    Args:
        golden: A golden as read by `load_golden`.
        stack: This process's GL stack (`stack.gl_stack()`), or None when nothing renders here; frames compare
            exactly only when it equals the golden's `made_with.gl`.
    """
    from simyard.platform.registry import make
    from simyard.platform.resources import Resources

    started = time.perf_counter()
    name, world = golden["name"], golden["world"]
    recorded_stack = golden["made_with"].get("gl")
    exact = recorded_stack is not None and stack == recorded_stack
    comparison = _comparison_text(golden, exact)
    outcome = GoldenResult(name, world, "passed", comparison=comparison)
    differences = outcome.differences
    where = "reset"
    try:
        task = _task(golden)
        with Resources("doctor") as resources:
            env = make(world, resources=resources, **golden["world_options"])
            try:
                observation = env.reset(task, golden["seed"])
                outcome.frame_gap = _compare_frames(golden["reset"]["frames"], _frames(observation), 0, exact,
                                                    differences)
                for number, expected in enumerate(golden["steps"], start=1):
                    where = f"step {number}"
                    got = _step_record(env.step(expected["action"]), expected["action"])
                    gap = _compare_step(expected, got, number, exact, differences)
                    outcome.frame_gap = max(outcome.frame_gap, gap)
                    outcome.steps = number
                    if differences:
                        break  # later steps only repeat the first divergence
                if not differences:
                    where = "final"
                    state = _jsonable_state(env.state())
                    _compare_value(golden["final"]["state"], state, "state", None, differences)
            finally:
                env.close()
    except SimyardError as exc:
        outcome.status, outcome.reason = "failed", f"{where}: {type(exc).__name__}: {exc.message}"
        outcome.fix = exc.hint or _fix(golden, "")
    except Exception as exc:  # noqa: BLE001 -- a world that crashes on a recorded action is a finding, not a crash
        outcome.status = "failed"
        outcome.reason = f"{where}: the world raised {type(exc).__name__}: {' '.join(str(exc).split())}"
        outcome.fix = _WORLD_FIX
    if not exact and recorded_stack is not None:
        outcome.comparison += f"; largest gap {outcome.frame_gap:.2f}/255"
    if differences:
        outcome.status = "failed"
        outcome.reason = differences[0].describe()
        outcome.fix = _fix(golden, differences[0].field)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _comparison_text(golden: dict[str, Any], exact: bool) -> str:
    recorded = golden["made_with"].get("gl")
    if recorded is None:
        return "fields (no frames)"
    if exact:
        return f"exact frame hashes ({recorded['backend']}, MuJoCo {recorded['mujoco']})"
    return (f"frame thumbnails within {THUMB_TOLERANCE:g}/255 (recorded with {recorded['backend']}, "
            f"MuJoCo {recorded['mujoco']}; this GL stack differs)")


def _fix(golden: dict[str, Any], field_name: str) -> str:
    recorded = golden["made_with"].get("gl") or {}
    remake = f"python -m simyard.doctor.make_golden {golden['name']}"
    if field_name.endswith(".sha256"):
        return (f"the same GL stack drew another picture: if the scene changed on purpose, regenerate ({remake}); "
                f"else reinstall MuJoCo (pip install --force-reinstall mujoco=={recorded.get('mujoco', '?')})")
    if field_name.endswith(".thumbnail"):
        return (f"this GL stack draws differently from the recording's: compare exactly with "
                f"MUJOCO_GL={recorded.get('backend', 'osmesa')} and mujoco=={recorded.get('mujoco', '?')} "
                f"(recorded on {recorded.get('renderer', '?')}), or regenerate here ({remake})")
    if field_name.startswith("frames"):
        return NEED_FIXES["render"]
    return _WORLD_FIX


def _task(golden: dict[str, Any]) -> Any:
    """The golden's task: as recorded, or (`task_source: suite`) rebuilt by its suite on this machine."""
    from simyard.platform.api import Task
    from simyard.platform.registry import find_task, load_suite

    if golden.get("task_source") == "suite":
        return find_task(load_suite(golden["suite"]), golden["task"]["id"], golden["suite"])
    return Task.model_validate(golden["task"])


def _compare_step(expected: dict[str, Any], got: dict[str, Any], number: int, exact: bool,
                  differences: list[Difference]) -> float:
    """Compare one step's fields and frames; returns the largest thumbnail gap (0 when compared exactly)."""
    for key in ("reward", "terminated", "truncated", "valid", "success", "progress", "feedback"):
        _compare_value(expected[key], got[key], key, number, differences)
    return _compare_frames(expected["frames"], got["frames"], number, exact, differences)


def _compare_frames(expected: dict[str, Any], got: dict[str, Any], number: int, exact: bool,
                    differences: list[Difference]) -> float:
    """Compare each view's fingerprint; returns the largest thumbnail gap (0 when compared exactly)."""
    largest = 0.0
    if sorted(expected) != sorted(got):
        differences.append(Difference(number, "frames (views)", sorted(expected), sorted(got)))
        return largest
    for view, want in expected.items():
        have = got[view]
        if want["shape"] != have["shape"]:
            differences.append(Difference(number, f"frames.{view}.shape", want["shape"], have["shape"]))
        elif exact and want["sha256"] != have["sha256"]:
            differences.append(Difference(number, f"frames.{view}.sha256", want["sha256"], have["sha256"]))
        elif not exact:
            gap = thumb_difference(want, have)
            largest = max(largest, gap)
            if gap > THUMB_TOLERANCE:
                differences.append(Difference(number, f"frames.{view}.thumbnail",
                                              f"within {THUMB_TOLERANCE:g}/255", f"{gap:.1f}/255 apart"))
    return largest


def _compare_value(expected: Any, got: Any, path: str, number: int | None, differences: list[Difference]) -> None:
    """Append the first place where `got` differs from `expected` (numbers within NUMBER_TOLERANCE)."""
    if isinstance(expected, bool) or isinstance(got, bool):
        if expected is not got:
            differences.append(Difference(number, path, expected, got))
    elif isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        if not math.isclose(expected, got, rel_tol=NUMBER_TOLERANCE, abs_tol=NUMBER_TOLERANCE):
            differences.append(Difference(number, path, expected, got))
    elif isinstance(expected, dict) and isinstance(got, dict):
        if sorted(expected) != sorted(got):
            differences.append(Difference(number, f"{path} (keys)", sorted(expected), sorted(got)))
            return
        for key in expected:
            before = len(differences)
            _compare_value(expected[key], got[key], f"{path}.{key}", number, differences)
            if len(differences) > before:
                return
    elif isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            differences.append(Difference(number, f"{path} (length)", len(expected), len(got)))
            return
        for index, (want, have) in enumerate(zip(expected, got, strict=True)):
            before = len(differences)
            _compare_value(want, have, f"{path}[{index}]", number, differences)
            if len(differences) > before:
                return
    elif expected != got:
        differences.append(Difference(number, path, expected, got))


def _short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(str(text).split())
    return repr(text[:limit] + "...") if len(text) > limit else repr(text) if isinstance(value, str) else text
