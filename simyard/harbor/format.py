"""Harbor task folders: reading and checking one, and turning a directory of them into simyard tasks.

A Harbor task folder (the format Harbor, Terminal-Bench's successor, defines and rLLM, SkyRL, TRL and verifiers read):

    instruction.md          what the agent is told
    task.toml               [agent] timeout_sec, [verifier] timeout_sec, [environment] build_timeout_sec, cpus,
                            memory_mb or memory ("2G"), allow_internet, and free [metadata]
    environment/Dockerfile  the agent's container (its folder is the build context)
    tests/test.sh           the verifier: uploaded to /tests only after the agent finishes; it writes the score to
                            /logs/verifier/reward.txt (one number) or several to reward.json (an object)
    solution/solve.sh       optional: what the oracle runs

Keys this module does not read (`docker_image`, `storage_mb`, `[verifier] env`, ...) are accepted and ignored, so
folders written for newer Harbor versions still load; the ones it reads are checked, and a mistake is one
`TaskFileError` line naming the folder and the key. Defaults follow Harbor's documented examples: 600 s for each
timeout, 1 CPU, 2048 MB.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simyard.platform.api import Task
from simyard.platform.errors import TaskFileError

__all__ = [
    "DEFAULT_MAX_TURNS",
    "REQUIRED_FILES",
    "HarborConfig",
    "HarborTask",
    "find_task_dirs",
    "load_task_folders",
    "parse_memory_mb",
    "read_task",
    "to_task",
]

#: The files every task folder must hold, in the order they are checked.
REQUIRED_FILES = ("task.toml", "instruction.md", "environment/Dockerfile", "tests/test.sh")
SOLUTION = "solution/solve.sh"
#: Harbor limits an agent by time only; simyard also caps its commands (a runaway model would otherwise loop until
#: the agent timeout). Reaching the cap ends the agent's turn and runs the verifier, as the timeout does.
DEFAULT_MAX_TURNS = 50
_FOLDER_HINT = (
    "a Harbor task folder holds task.toml, instruction.md, environment/Dockerfile and tests/test.sh "
    "(solution/solve.sh is optional)"
)
_MARKERS = ("task.toml", "instruction.md", "environment", "tests")
_UNITS_MB = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


# ------------------------------------------------------------------------------------------------ task.toml


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Agent(_Section):
    timeout_sec: float = Field(default=600.0, gt=0, strict=True)


class _Verifier(_Section):
    timeout_sec: float = Field(default=600.0, gt=0, strict=True)


class _Environment(_Section):
    build_timeout_sec: float = Field(default=600.0, gt=0, strict=True)
    cpus: float = Field(default=1.0, gt=0, strict=True)
    memory_mb: int | None = Field(default=None, gt=0, strict=True)
    memory: str | None = Field(default=None, strict=True)
    allow_internet: bool = Field(default=True, strict=True)


class _TaskToml(_Section):
    metadata: dict[str, Any] = Field(default_factory=dict)
    agent: _Agent = Field(default_factory=_Agent)
    verifier: _Verifier = Field(default_factory=_Verifier)
    environment: _Environment = Field(default_factory=_Environment)


def parse_memory_mb(text: str) -> int:
    """Megabytes in a size such as `2G`, `512M`, `4Gi` or `1.5GB` (a number with a unit; binary multiples)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt])(?:ib?|b)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{text!r} is not a size like '2G' or '512M'")
    megabytes = float(match.group(1)) * _UNITS_MB[match.group(2).lower()]
    if megabytes < 1:
        raise ValueError(f"{text!r} is less than a megabyte")
    return int(megabytes)


# ------------------------------------------------------------------------------------------------ the folder


@dataclass(frozen=True)
class HarborTask:
    """One task folder, read and checked.

    Attributes:
        path: The folder (absolute).
        name: Its name: the task's id.
        instruction: instruction.md, whole.
        agent_timeout_s: How long the agent may work ([agent] timeout_sec).
        verifier_timeout_s: How long tests/test.sh may run ([verifier] timeout_sec); past it, the episode errs.
        build_timeout_s: How long building environment/Dockerfile may take.
        cpus: CPUs of the container.
        memory_mb: Memory of the container ([environment] memory_mb, or memory such as "2G").
        allow_internet: What the task asks for; simyard's containers have no network either way (recorded).
        has_solution: Whether solution/solve.sh exists (the oracle runs it).
        metadata: [metadata], as written (dates as ISO text).
    """

    path: Path
    name: str
    instruction: str
    agent_timeout_s: float = 600.0
    verifier_timeout_s: float = 600.0
    build_timeout_s: float = 600.0
    cpus: float = 1.0
    memory_mb: int = 2048
    allow_internet: bool = True
    has_solution: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def dockerfile(self) -> Path:
        return self.path / "environment" / "Dockerfile"

    @property
    def tests_dir(self) -> Path:
        return self.path / "tests"

    @property
    def solution_dir(self) -> Path:
        return self.path / "solution"


def read_task(path: Path | str) -> HarborTask:
    """Read and check one task folder.

    Raises:
        TaskFileError: a required file is missing (named), task.toml is not TOML (line and column), or a key it
            reads has a bad value (named, as `[section] key`).
    """
    path = Path(path).resolve()
    if not path.is_dir():
        raise TaskFileError(f"{path} is not a Harbor task folder", hint=_FOLDER_HINT)
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise TaskFileError(f"Harbor task {path.name}: missing {name} ({path / name})", hint=_FOLDER_HINT)
    toml_path = path / "task.toml"
    try:
        raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskFileError(f"{toml_path}: not valid TOML: {exc}", hint="see https://toml.io for the syntax") from None
    except UnicodeDecodeError:
        raise TaskFileError(f"{toml_path}: not UTF-8 text", hint="save task.toml as UTF-8") from None
    try:
        parsed = _TaskToml.model_validate(raw)
    except ValidationError as exc:
        raise TaskFileError(f"{toml_path}: {_key_problem(exc)}", hint=_toml_hint()) from None
    environment = parsed.environment
    memory_mb = environment.memory_mb
    if memory_mb is None and environment.memory is not None:
        try:
            memory_mb = parse_memory_mb(environment.memory)
        except ValueError as exc:
            raise TaskFileError(f"{toml_path}: [environment] memory: {exc}", hint=_toml_hint()) from None
    try:
        instruction = (path / "instruction.md").read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TaskFileError(f"{path / 'instruction.md'}: not UTF-8 text", hint="save it as UTF-8") from None
    return HarborTask(
        path=path,
        name=path.name,
        instruction=instruction,
        agent_timeout_s=float(parsed.agent.timeout_sec),
        verifier_timeout_s=float(parsed.verifier.timeout_sec),
        build_timeout_s=float(environment.build_timeout_sec),
        cpus=float(environment.cpus),
        memory_mb=memory_mb or 2048,
        allow_internet=environment.allow_internet,
        has_solution=(path / SOLUTION).is_file(),
        metadata=json.loads(json.dumps(parsed.metadata, default=str)),  # TOML dates become text: JSON-safe
    )


def _key_problem(exc: ValidationError) -> str:
    """`[section] key: what is wrong` for the first error pydantic found."""
    first = exc.errors()[0]
    location = [str(part) for part in first["loc"]]
    if len(location) >= 2:
        where = f"[{location[0]}] {'.'.join(location[1:])}"
    else:
        where = f"[{location[0]}]" if location else "task.toml"
    return f"{where}: {first['msg']} (got {first.get('input')!r})"


def _toml_hint() -> str:
    return (
        "timeouts are positive numbers of seconds, cpus a positive number, memory_mb a positive integer, memory "
        'a size such as "2G", allow_internet true or false, [metadata] a table'
    )


# ------------------------------------------------------------------------------------------------ as tasks


class HarborConfig(BaseModel):
    """`Task.config` of a `harbor` task: where its folder is and what its task.toml said (checked when read).

    The folder must still exist when the episode runs: the world builds environment/ and uploads tests/ from it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1, description="the task folder (absolute)")
    agent_timeout_s: float = Field(default=600.0, gt=0)
    verifier_timeout_s: float = Field(default=600.0, gt=0)
    build_timeout_s: float = Field(default=600.0, gt=0)
    cpus: float = Field(default=1.0, gt=0)
    memory_mb: int = Field(default=2048, gt=0)
    allow_internet: bool = True
    has_solution: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1, description="commands before the verifier runs")


def to_task(harbor: HarborTask, max_turns: int = DEFAULT_MAX_TURNS) -> Task:
    """The simyard task of a folder: world `harbor`, id = folder name, subset = [metadata] category (else `base`).

    The world ends the agent's turn itself (after `max_turns` commands, or at the agent timeout) and then runs the
    verifier, so the runner's caps must never come first: they would end the episode unscored. `max_steps` is
    twice the turn cap (the runner also counts replies that held no action, which never reach the world) and
    `max_invalid` is None.
    """
    category = harbor.metadata.get("category")
    config = HarborConfig(
        path=str(harbor.path),
        agent_timeout_s=harbor.agent_timeout_s,
        verifier_timeout_s=harbor.verifier_timeout_s,
        build_timeout_s=harbor.build_timeout_s,
        cpus=harbor.cpus,
        memory_mb=harbor.memory_mb,
        allow_internet=harbor.allow_internet,
        has_solution=harbor.has_solution,
        metadata=harbor.metadata,
        max_turns=max_turns,
    )
    try:
        return Task(
            id=harbor.name,
            world="harbor",
            instruction=harbor.instruction,
            subset=category if isinstance(category, str) and category.strip() else "base",
            config=config.model_dump(),
            max_steps=2 * max_turns,
            max_invalid=None,
        )
    except ValidationError as exc:  # a folder name that cannot name an episode directory
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise TaskFileError(f"Harbor task folder {harbor.path}: {message}", hint="rename the folder") from None


def _looks_like_task(path: Path) -> bool:
    return any((path / marker).exists() for marker in _MARKERS)


def find_task_dirs(path: Path | str) -> list[Path]:
    """The task folders at `path`: the folder itself when it is one, else its subfolders that look like one (they
    hold any of task.toml, instruction.md, environment/, tests/; hidden folders are skipped), sorted by name.

    Raises:
        TaskFileError: `path` is not a directory, or holds no task folder.
    """
    path = Path(path)
    if not path.is_dir():
        raise TaskFileError(f"{path} is not a directory", hint="give a Harbor task folder or a folder of them")
    if (path / "task.toml").is_file():
        return [path]
    found = sorted(
        child
        for child in path.iterdir()
        if child.is_dir() and not child.name.startswith(".") and _looks_like_task(child)
    )
    if not found:
        raise TaskFileError(
            f"{path} holds no Harbor task folders (no task.toml in it or its subfolders)", hint=_FOLDER_HINT
        )
    return found


def load_task_folders(path: Path | str, max_turns: int = DEFAULT_MAX_TURNS) -> list[Task]:
    """Every task folder at `path` (one folder, or a folder of them) as `harbor` tasks; the first bad folder stops
    the load with one line naming it. `max_turns` caps each episode's commands (the suite option of that name)."""
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
        raise TaskFileError(
            f"max_turns must be a whole number of at least 1, not {max_turns!r}", hint="e.g. --suite-opt max_turns=30"
        )
    return [to_task(read_task(folder), max_turns) for folder in find_task_dirs(path)]
