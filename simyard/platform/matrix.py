"""Runs over a matrix: several agents, models or suites in one run directory, one arm per combination.

A matrix run is a directory holding `matrix.json` (the arms and the options they share) and `arms/<name>/`, each a
plain run directory made by `run_bench`: an arm resumes, reports and compares exactly as a single run does, and the
matrix resumes by resuming each unfinished arm (and starting arms not begun yet). Arms run one after another, so
each gets the whole machine and its own progress.

Where arms come from:

* several `--agent` flags: one arm per agent;
* a comma list in the `model` option (`--agent-opt model=a,b,c`, `--model a,b,c`) or a JSON list
  (`--agent-opt model='["a","b"]'`): one arm per model. Only `model` is split, because other values (a system
  prompt, a stop string) legitimately hold commas; write `\\,` for a comma inside a model name;
* a YAML run file (`--matrix run.yaml`): agents x suites x options (`MatrixFile`).

Every agent is checked before anything is made, so an unknown name costs one line and no directory.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simyard.platform import registry
from simyard.platform.errors import RunDirError, SimyardError
from simyard.platform.metrics import GroupStats, group_stats

MATRIX_FILE = "matrix.json"
ARMS_DIR = "arms"

#: The one agent option whose comma lists expand into arms.
SWEEP_KEY = "model"


class MatrixError(SimyardError):
    """A matrix that cannot run: a run file that does not parse, an arm that does not exist, no arms at all."""


@dataclass(frozen=True)
class Arm:
    """One combination of the matrix: its own run directory under `arms/<name>`."""

    name: str
    suite: str
    agent: str
    agent_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class MatrixPlan:
    """What `matrix.json` holds: the arms and the run options they share (passed to every arm's `run_bench`)."""

    arms: list[Arm]
    shared: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"arms": [asdict(arm) for arm in self.arms], "shared": self.shared}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> MatrixPlan:
        data = json.loads(text)
        return cls([Arm(**arm) for arm in data["arms"]], dict(data.get("shared") or {}))


# ------------------------------------------------------------------------------------------------ the run file


class _AgentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str
    name: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class MatrixFile(BaseModel):
    """A YAML run file: every agent entry runs on every suite.

        suites: [ragen]
        limit: 20
        agent_options: {base_url: "http://127.0.0.1:8000/v1"}   # under every agent's own options
        agents:
          - agent: random
          - agent: openai
            options: {model: [qwen-0.5b, qwen-7b]}                 # one arm per model
          - {agent: openai, name: careful, options: {model: qwen-7b, temperature: 0}}
    """

    model_config = ConfigDict(extra="forbid")

    agents: list[_AgentEntry | str] = Field(min_length=1)
    suites: list[str] = Field(default_factory=list)
    suite: str | None = None
    agent_options: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=1)
    seed: int | None = None
    world_options: dict[str, Any] | None = None
    suite_options: dict[str, Any] | None = None


def read_matrix_file(path: str | Path, suite: str | None = None) -> tuple[list[Arm], dict[str, Any]]:
    """The arms of a YAML run file and the run options it sets (limit, seed, world and suite options).

    Args:
        path: The run file.
        suite: A suite given on the command line, used when the file names none.

    Raises:
        MatrixError: The file is missing, not YAML, or not a run file (the field named); it names no suite.
        UnknownNameError: An agent the registry does not know (named).
    """
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise MatrixError(f"cannot read run file {path}: {exc.strerror or exc}",
                          hint="pass a YAML file listing agents (and suites)") from None
    except yaml.YAMLError as exc:
        raise MatrixError(f"run file {path} is not YAML: {' '.join(str(exc).split())[:200]}",
                          hint="see docs/architecture.md, Matrix runs, for the format") from None
    try:
        parsed = MatrixFile.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise MatrixError(f"run file {path}: {where}: {first['msg']}",
                          hint="fields: agents (required), suites, agent_options, limit, seed, world_options, "
                          "suite_options; each agent: agent, name, options") from None
    suites = list(parsed.suites) + ([parsed.suite] if parsed.suite else [])
    if not suites and suite:
        suites = [suite]
    if not suites:
        raise MatrixError(f"run file {path} names no suite", hint="add `suites: [ragen]`, or give the suite as the "
                          "command's argument")
    entries = [_AgentEntry(agent=entry) if isinstance(entry, str) else entry for entry in parsed.agents]
    arms = expand([(entry.agent, {**parsed.agent_options, **entry.options}, entry.name) for entry in entries],
                  suites)
    shared = {key: value for key, value in {"limit": parsed.limit, "seed": parsed.seed,
                                            "world_options": parsed.world_options,
                                            "suite_options": parsed.suite_options}.items() if value is not None}
    return arms, shared


# ------------------------------------------------------------------------------------------------ expansion


def sweep_values(value: Any) -> list[Any]:
    """The values a `model` option sweeps over: a list's items, a string's comma-separated parts (`\\,` is a comma
    inside a name), or the value alone."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str) and "," in value.replace("\\,", ""):
        return [part.replace("\\,", ",").strip() for part in re.split(r"(?<!\\),", value) if part.strip()]
    if isinstance(value, str):
        return [value.replace("\\,", ",")]
    return [value]


def expand(agents: Sequence[tuple[str, dict[str, Any], str | None]], suites: Sequence[str]) -> list[Arm]:
    """Arms for agents (name, options, arm label or None) x suites: a `model` list makes one arm per model.

    Arm names are the label, or the agent with its model (`openai-qwen-7b`), with `@suite` when there are several
    suites; made safe as directory names and unique.

    Raises:
        UnknownNameError: An agent the registry does not know (checked before anything runs).
        MatrixError: No agents, or an empty model list.
    """
    if not agents:
        raise MatrixError("a matrix needs at least one agent", hint="pass --agent NAME, or list agents in the file")
    for agent, _, _ in agents:
        registry.origin("agent", agent)
    arms: list[Arm] = []
    taken: set[str] = set()
    for suite in suites:
        for agent, options, label in agents:
            models = sweep_values(options[SWEEP_KEY]) if SWEEP_KEY in options else [None]
            if not models:
                raise MatrixError(f"agent {agent!r} has an empty model list", hint="name at least one model")
            for model in models:
                arm_options = dict(options) if model is None else {**options, SWEEP_KEY: model}
                base = label or agent
                if model is not None and (len(models) > 1 or not label):
                    base = f"{base}-{model}"
                if len(suites) > 1:
                    base = f"{base}@{_suite_label(suite)}"
                arms.append(Arm(_unique(_safe(base), taken), suite, agent, arm_options))
    return arms


def cli_arms(suite: str | None, agents: Sequence[str],
             agent_options: dict[str, Any] | None) -> tuple[list[Arm] | None, dict[str, Any] | None]:
    """The arms a `bench run` command line asks for (None for a plain single run: one agent, one model), and the
    agent options of that single run (an escaped comma in its model name unescaped)."""
    if agent_options is None or SWEEP_KEY not in agent_options:
        models: list[Any] = [None]
    else:
        models = sweep_values(agent_options[SWEEP_KEY])
    if len(agents) <= 1 and len(models) <= 1:
        if models and models[0] is not None:
            agent_options = {**(agent_options or {}), SWEEP_KEY: models[0]}
        return None, agent_options
    if not suite:
        raise MatrixError("no suite given", hint="name a suite (e.g. ragen) or a task file before --agent")
    return expand([(agent, dict(agent_options or {}), None) for agent in agents], [suite]), agent_options


def _suite_label(suite: str) -> str:
    path = Path(suite)
    return path.stem if path.suffix else path.name or suite


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", name).strip("._") or "arm"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}-{number}", number + 1
    taken.add(candidate)
    return candidate


# ------------------------------------------------------------------------------------------------ running


def is_matrix(path: str | Path) -> bool:
    """Whether `path` is a matrix run directory (it holds matrix.json)."""
    return (Path(path) / MATRIX_FILE).is_file()


def read_plan(path: str | Path) -> MatrixPlan:
    """The plan of a matrix run directory.

    Raises:
        RunDirError: `path` is not a matrix run, or its matrix.json is damaged.
    """
    file = Path(path) / MATRIX_FILE
    try:
        return MatrixPlan.from_json(file.read_text())
    except FileNotFoundError:
        raise RunDirError(f"{path} is not a matrix run (no {MATRIX_FILE})",
                          hint="pass the directory `simyard bench run` made with several agents or --matrix") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise RunDirError(f"{file} is damaged: {exc}", hint="restore it from the arms' run.json files") from None


def arm_dir(path: str | Path, arm: str) -> Path:
    """Where an arm's run directory lies."""
    return Path(path) / ARMS_DIR / arm


def find_arm(path: str | Path, name: str) -> Path:
    """An arm's run directory by name.

    Raises:
        MatrixError: No arm of that name (the known names listed).
    """
    names = [arm.name for arm in read_plan(path).arms]
    if name not in names:
        raise MatrixError(f"matrix run {path} has no arm named {name!r}", hint=f"its arms: {', '.join(names)}")
    return arm_dir(path, name)


@dataclass
class ArmOutcome:
    """How one arm of a matrix run ended: its name and `run_bench`'s summary (None when it was already complete)."""

    arm: Arm
    summary: Any


def run_matrix(
    arms: list[Arm] | None,
    out: str | Path | None = None,
    *,
    resume: str | Path | None = None,
    shared: dict[str, Any] | None = None,
    on_arm: Callable[[Arm, int, int], Any] | None = None,
    **run_options: Any,
) -> list[ArmOutcome]:
    """Run (or resume) every arm of a matrix, one after another, each into its own run directory.

    Args:
        arms: The arms of a new matrix (None when resuming).
        out: The matrix run directory to create.
        resume: A matrix run directory to finish: unfinished arms resume, arms not begun start.
        shared: Run options recorded for every arm (limit, seed, world and suite options, ...).
        on_arm: Called with (arm, its number, how many) before each arm starts; returns a progress callback or None.
        run_options: Options that may change between sessions (workers, concurrency, progress, ...).

    Raises:
        SimyardError: As `run_bench`, and RunDirError when `out` already holds something. KeyboardInterrupt after
            the arm in progress is marked interrupted (resume the matrix to continue).
    """
    from simyard.platform.bench import run_bench
    from simyard.platform.episode import Limits
    from simyard.platform.rundir import RUN_FILE, open_run

    if resume is not None:
        root = Path(resume)
        plan = read_plan(root)
    else:
        assert arms is not None and out is not None
        root = Path(out)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise RunDirError(f"{root} exists and is not an empty directory", hint="pick a new --out directory")
        plan = MatrixPlan(arms, {key: value for key, value in (shared or {}).items() if value is not None})
        (root / ARMS_DIR).mkdir(parents=True, exist_ok=True)
        (root / MATRIX_FILE).write_text(plan.to_json())
    outcomes = []
    for number, arm in enumerate(plan.arms, 1):
        where = arm_dir(root, arm.name)
        begun = (where / RUN_FILE).is_file()
        if begun and open_run(where).manifest.status == "finished":
            outcomes.append(ArmOutcome(arm, None))
            continue
        progress = on_arm(arm, number, len(plan.arms)) if on_arm is not None else None
        if begun:
            summary = run_bench(resume=where, progress=progress, **run_options)
        else:
            shared = dict(plan.shared)
            if isinstance(shared.get("limits"), dict):
                shared["limits"] = Limits(**shared["limits"])
            summary = run_bench(arm.suite, arm.agent, arm.agent_options, out=where, progress=progress,
                                **shared, **run_options)
        outcomes.append(ArmOutcome(arm, summary))
    return outcomes


# ------------------------------------------------------------------------------------------------ the report


@dataclass(frozen=True)
class MatrixRow:
    """One arm of the report: its overall figures and one `GroupStats` per column (world/subset)."""

    arm: Arm
    status: str
    overall: GroupStats
    columns: dict[str, GroupStats]


def matrix_report(path: str | Path) -> tuple[list[str], list[MatrixRow]]:
    """The report of a matrix run: the columns (every world/subset any arm ran) and a row per arm.

    An arm not begun yet has an empty row (n = 0), so a half-done matrix still reports what it has.
    """
    from simyard.platform.rundir import RUN_FILE, open_run

    plan = read_plan(path)
    rows = []
    columns: set[str] = set()
    for arm in plan.arms:
        where = arm_dir(path, arm.name)
        status: str
        if (where / RUN_FILE).is_file():
            run = open_run(where)
            results, status = run.results(), run.manifest.status
        else:
            results, status = [], "not started"
        groups: dict[str, list[Any]] = {}
        for result in results:
            groups.setdefault(f"{result.world}/{result.subset}", []).append(result)
        columns.update(groups)
        rows.append(MatrixRow(arm, status, group_stats("all", "all", results),
                              {name: group_stats("subset", name, members) for name, members in groups.items()}))
    return sorted(columns), rows


def success_cell(stats: GroupStats | None) -> str:
    """`45.0% [30.2, 60.6] n=20`: success with its 95% Wilson interval; `-` for no episodes."""
    if stats is None or stats.n == 0 or math.isnan(stats.success_rate):
        return "-"
    return (f"{stats.success_rate:.1%} [{stats.success_low * 100:.1f}, {stats.success_high * 100:.1f}] "
            f"n={stats.n}")
