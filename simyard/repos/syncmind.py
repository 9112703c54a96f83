"""The `syncmind` world: SyncMind's out-of-sync recovery in a real git workspace, with a budget and a collaborator.

The agent's workspace (`/workspace` in the sandbox) is a git repository whose last commit is the agent's own stale
work: the world's tree with one function as the agent last knew it. The collaborator's change exists only upstream
(`origin`, a private bare repository shown read-only in the sandbox): `git fetch` then `git log origin/main` shows it,
as with a real collaborator; before a fetch nothing in the workspace reaches it (see `repos.workspaces`). The agent
sees the failing test output and acts with JSON objects:

    {"action": "run", "command": "git fetch && git log --oneline origin/main"}   free, costs a turn
    {"action": "propose", "file": "pkg/shapes.py", "function": "area"}         costs `proposal_cost`
    {"action": "ask", "question": "Which function changed?"}                 costs `question_cost` (collaborative)

A proposal runs the verification test file on the workspace as the agent left it (edits anywhere count, unlike
SyncMind's splice of one function) and succeeds when every test ends as in the gold run. `file` and `function` name
what the agent believes it fixed: they grade localisation (SyncMind's LA) and a named file must exist. Budget and
turns are SyncMind's: $1000, $100 per proposal, $100 per question, 30 turns by default, all set per task
(`Task.config`, `Task.max_steps`) or for the run (world options). The episode ends on success, when the balance
cannot pay for the cheapest paid action (the proposal; in collaborative mode the cheaper of proposal and question),
or at the turn limit.

Per worker (`resources`): one workspace root, the pinned upstreams and their belief templates, and a sandbox pool.
Errors: a lost sandbox or a dead Docker daemon is `SandboxLost` (infra_error, retried; its hint says to start dockerd
or use `--world-opt sandbox=bwrap`); a collaborator server that stays unavailable is an `InfraError` too. A bad
action never raises: it costs a turn (no money) and says what is wrong.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.errors import SandboxError, SimyardError
from simyard.platform.resources import Resources
from simyard.repos.collaborator import COLLABORATORS, Collaborator, make_collaborator
from simyard.repos.history import functions_in, splice
from simyard.repos.instances import Instance, belief_of
from simyard.repos.testrun import LOG_CHARS, TestRun, default_python, error_log, run_pytest
from simyard.repos.workspaces import Upstream, Workspace, WorkspaceRoot, Workspaces, pin_source
from simyard.sandboxes.base import CommandResult, Limits, Sandbox, SandboxLost, inside
from simyard.sandboxes.factory import SANDBOXES

__all__ = ["MODES", "SyncMindConfig", "SyncMindEnv", "UPSTREAMS"]

MODES = ("independent", "collaborative")
#: Where the sandbox shows the worker's upstreams (read-only); `origin` points into it.
UPSTREAMS = "/upstreams"
#: Environment of every command: git pages nothing (SyncMind aliases `git --no-pager`) and trusts the workspace,
#: whose owner the sandbox's uid may not match.
COMMAND_ENV = {"GIT_PAGER": "cat", "PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_COUNT": "1",
               "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}
#: How much of a step's text its `feedback` keeps: planners restate past steps from their feedback (EmbodiedBench's
#: history), and a command's output matters later, but thirty full outputs would swamp a prompt.
FEEDBACK_CHARS = 1500
INSTRUCTION = (
    "You work in a git repository together with a collaborator. You changed the code based on your understanding of "
    "the repository, but your collaborator has changed the repository since, and now the test file {test_file} "
    "fails. Find out what is out of sync and update the code so that the test file passes again. Your own last "
    "commit is HEAD; your collaborator's work is on the remote (origin). Do not install packages, and do not run "
    "the whole test suite: other files may be under revision."
)


class SyncMindConfig(BaseModel):
    """`Task.config` of a `syncmind` task.

    Attributes:
        instance: The out-of-sync instance (as `simyard repos build` writes it).
        source: The git repository the instance was built from (a path); its world sha is pinned from there.
        mode: `independent` or `collaborative` (questions allowed).
        budget, proposal_cost, question_cost: SyncMind's hypothetical money (not real dollars, so never `cost`).
        test_timeout_s: Limit on one verification run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance: Instance
    source: str = Field(min_length=1)
    mode: Literal["independent", "collaborative"] = "independent"
    budget: float = Field(default=1000.0, ge=0)
    proposal_cost: float = Field(default=100.0, ge=0)
    question_cost: float = Field(default=100.0, ge=0)
    test_timeout_s: float = Field(default=120.0, gt=0)


class _Yard:
    """A worker's repositories: one workspace root, an upstream per pinned world state, a workspace factory each.
    Shared by every lane of the worker, so it locks around pinning and template building.

    Upstreams are pinned by `repos.pin_source` (named by the world sha) and then renamed to `<repo>-<hash>.git` in
    `remotes/`, the directory the sandbox shows at `/upstreams`: a remote named by the world sha would tell the agent
    the future's name before any fetch."""

    def __init__(self, run_id: str = "syncmind") -> None:
        self.root = WorkspaceRoot(run_id=run_id)
        self.upstreams = self.root.path / "remotes"
        self.upstreams.mkdir(exist_ok=True)
        self._pinned: dict[tuple[str, str], Upstream] = {}
        self._factories: dict[tuple[str, str, bool], Workspaces] = {}
        self._lock = threading.Lock()
        # Finished workspaces are removed off the episode's path: the next reset need not wait for an rmtree.
        self._cleaner = ThreadPoolExecutor(1, thread_name_prefix="simyard-workspace-cleanup")

    def _upstream(self, source: str, instance: Instance) -> Upstream:
        key = (source, instance.world_sha)
        if key not in self._pinned:
            pinned = pin_source(source, self.root, instance.world_sha)
            digest = hashlib.sha256(f"{source}\0{pinned.world_sha}".encode()).hexdigest()[:10]
            name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in instance.repo)[:40] or "repo"
            alias = self.upstreams / f"{name}-{digest}.git"
            pinned.path.rename(alias)
            self._pinned[key] = Upstream(path=alias, world_sha=pinned.world_sha, source=pinned.source)
        return self._pinned[key]

    def workspace(self, source: str, instance: Instance, in_sandbox: bool) -> Workspace:
        """A fresh workspace for `instance`; `origin` names the upstream where the sandbox shows it."""
        key = (source, instance.world_sha, in_sandbox)
        with self._lock:
            factory = self._factories.get(key)
            if factory is None:
                upstream = self._upstream(source, instance)
                remote = f"{UPSTREAMS}/{upstream.path.name}" if in_sandbox else None
                factory = self._factories[key] = Workspaces(self.root, upstream, remote_url=remote)
            return factory.create(belief_of(instance))

    def discard(self, workspace: Workspace) -> None:
        """Remove a finished workspace in the background (the root's removal catches any left at exit)."""
        try:
            self._cleaner.submit(workspace.close)
        except RuntimeError:  # the yard is closing: remove it here
            workspace.close()

    def close(self) -> None:
        self._cleaner.shutdown(wait=True)
        self.root.close()


class SyncMindEnv(Env):
    """SyncMind's recovery task on a real workspace (see the module docstring).

    Args:
        sandbox: Where commands run: `bwrap` (default), `docker` or `local` (unsafe, for debugging).
        collaborator: Who answers questions: `oracle` (deterministic) or `openai` (a model; see below).
        collaborator_model, collaborator_base_url, collaborator_api_key_env, collaborator_temperature: The
            `openai` collaborator's model, server, key variable and temperature (SyncMind: gpt-4o at 0.7).
        budget, proposal_cost, question_cost: Override every task's money settings.
        max_turns: End episodes after this many turns (the runner's `--max-steps` / `Task.max_steps` also hold).
        command_timeout_s: Limit on one agent command (killed with everything it started).
        output_chars: Characters of a command's output shown to the agent (the middle is cut, and it says so).
        image: The Docker image (`docker` only; default simyard's base image with python3, git and pytest).
        docker_url: The Docker daemon (default `$DOCKER_HOST` or the local socket).
        pool_size: Docker containers kept warm per worker.
        python: The interpreter that runs pytest in the sandbox (default `python3`; this one for `local`).
        resources: The worker's scope (passed by the runner): workspaces, upstreams, the sandbox pool and the
            collaborator's client are shared there.
    """

    name: ClassVar[str] = "syncmind"
    config_model: ClassVar[type[BaseModel] | None] = SyncMindConfig

    def __init__(
        self,
        sandbox: str = "bwrap",
        collaborator: str = "oracle",
        collaborator_model: str = "gpt-4o",
        collaborator_base_url: str | None = None,
        collaborator_api_key_env: str = "OPENAI_API_KEY",
        collaborator_temperature: float = 0.7,
        budget: float | None = None,
        proposal_cost: float | None = None,
        question_cost: float | None = None,
        max_turns: int | None = None,
        command_timeout_s: float = 60.0,
        output_chars: int = 10_000,
        image: str | None = None,
        docker_url: str | None = None,
        pool_size: int = 2,
        python: str | None = None,
        resources: Resources | None = None,
    ) -> None:
        if sandbox not in SANDBOXES:
            raise SimyardError(f"no sandbox named {sandbox!r}", hint=f"use one of: {', '.join(SANDBOXES)}")
        if collaborator not in COLLABORATORS:
            raise SimyardError(f"no collaborator named {collaborator!r}",
                               hint=f"use one of: {', '.join(COLLABORATORS)}")
        for name, value in (("budget", budget), ("proposal_cost", proposal_cost), ("question_cost", question_cost)):
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise SimyardError(f"{name}={value!r} must be a number >= 0", hint="fix the --world-opt")
        if max_turns is not None and (not isinstance(max_turns, int) or max_turns < 1):
            raise SimyardError(f"max_turns={max_turns!r} must be a whole number >= 1", hint="fix the --world-opt")
        self.kind = sandbox
        self.overrides = {"budget": budget, "proposal_cost": proposal_cost, "question_cost": question_cost}
        self.max_turns_option = max_turns
        self.command_timeout_s = float(command_timeout_s)
        self.output_chars = int(output_chars)
        self.python = python or default_python(sandbox)
        self._owned_scope = resources is None
        self.resources = resources if resources is not None else Resources("syncmind")
        self.yard: _Yard = self.resources.shared("syncmind-yard", _Yard)
        options: dict[str, Any] = {}
        if sandbox != "local":
            options["ro_binds"] = {str(self.yard.upstreams): UPSTREAMS}
        if sandbox == "docker":
            from simyard.sandboxes.docker import BASE_IMAGE

            options.update(image=image or BASE_IMAGE, base_url=docker_url)
        self._sandbox_options = options
        self._pool_size = pool_size
        self._pool: Any = None
        self.collaborator: Collaborator = make_collaborator(
            collaborator, resources=self.resources, **({} if collaborator == "oracle" else {
                "model": collaborator_model, "base_url": collaborator_base_url,
                "api_key_env": collaborator_api_key_env, "temperature": collaborator_temperature}))
        self.workspace: Workspace | None = None
        self.sandbox: Sandbox | None = None
        self.task: Task | None = None
        self.config: SyncMindConfig | None = None

    @classmethod
    def prepare_run(cls, resources: Resources, options: dict[str, Any]) -> None:
        """Once per run: simyard's base image for `sandbox=docker` (built when missing, so workers never race to
        build it). A daemon that does not answer is left to the episodes, whose `SandboxLost` is an infra_error."""
        if options.get("sandbox") != "docker" or options.get("image"):
            return
        from simyard.sandboxes.docker import docker_client
        from simyard.sandboxes.images import ensure_base_image

        try:
            client = docker_client(options.get("docker_url"))
        except SandboxLost:
            return
        ensure_base_image(client)

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """Task `seed` (modulo its size) of the `syncmind-mini` suite (built on first use)."""
        from simyard.tasks.syncmind_mini import syncmind_mini_suite

        tasks = syncmind_mini_suite()
        return tasks[seed % len(tasks)]

    # --------------------------------------------------------------------------------------------- the episode

    @property
    def instance(self) -> Instance:
        assert self.config is not None, "reset first"
        return self.config.instance

    def _setting(self, name: str) -> float:
        value = self.overrides[name]
        return float(value if value is not None else getattr(self.config, name))

    def _sandbox_pool(self) -> Any:
        if self._pool is None:
            from simyard.sandboxes.pool import sandbox_pool

            limits = Limits(timeout_s=self.command_timeout_s)
            self._pool = sandbox_pool(self.resources, self.kind, limits, size=self._pool_size,
                                      **self._sandbox_options)
        return self._pool

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        self._end_episode()
        config = task.config if isinstance(task.config, SyncMindConfig) else SyncMindConfig.model_validate(task.config)
        self.task, self.config = task, config
        self.budget = self._setting("budget")
        self.proposal_cost = self._setting("proposal_cost")
        self.question_cost = self._setting("question_cost")
        self.balance = self.budget
        self.collaborative = config.mode == "collaborative"
        self.cheapest = min(self.proposal_cost, self.question_cost) if self.collaborative else self.proposal_cost
        self.max_turns = min(task.max_steps, self.max_turns_option or task.max_steps)
        self.turn = 0
        self.counts = {"run": 0, "propose": 0, "ask": 0, "invalid": 0}
        self.la_file = self.la_func = self.success = False
        self.success_turn: int | None = None
        self.progress = 0.0
        self.edited_file = self.edited_func = False
        self._belief_text = config.instance.belief_text()
        self._belief_code = functions_in(self._belief_text)[config.instance.function].code
        self.workspace = self.yard.workspace(str(Path(config.source).expanduser()), config.instance,
                                             in_sandbox=self.kind != "local")
        try:
            self.sandbox = self._sandbox_pool().acquire(self.workspace.path)
        except BaseException:
            self._end_episode()
            raise
        instance = config.instance
        text = (f"[Budget: ${self.balance:g}] Your revised code failed the execution test "
                f"(python -m pytest {instance.test_file}) as follows:\n{instance.initial_error_log.rstrip()}\n\n"
                f"The repository is your working directory ({self.sandbox.workdir}). {self._status()}")
        return Observation(text=text, data=self._data())

    def _end_episode(self) -> None:
        sandbox, self.sandbox = self.sandbox, None
        workspace, self.workspace = self.workspace, None
        try:
            if sandbox is not None:
                sandbox.close()
        finally:
            if workspace is not None:
                self.yard.discard(workspace)

    def action_spec(self) -> ActionSpec:
        proposal = getattr(self, "proposal_cost", 100.0)
        question = getattr(self, "question_cost", 100.0)
        collaborative = getattr(self, "collaborative", True)
        lines = [
            'Each turn, take one action, a JSON object:',
            '(a) {"action": "run", "command": "<shell command>"}: run a command in the repository (bash, no network, '
            'no package installs). Free, but it uses a turn. Edit files with commands (sed, python, cat > file).',
            f'(b) {{"action": "propose", "file": "<path>", "function": "<name>"}}: you believe the code is fixed; '
            f"the test file is run on your working tree. Name the file and function you fixed. Costs ${proposal:g}.",
        ]
        if collaborative:
            lines.append(f'(c) {{"action": "ask", "question": "<question>"}}: ask your collaborator, who knows '
                         f"what changed and answers exactly what you ask. Costs ${question:g}.")
        schema = {
            "type": "object",
            "properties": {
                "action": {"enum": ["run", "propose", "ask"] if collaborative else ["run", "propose"]},
                "command": {"type": "string"}, "file": {"type": "string"}, "function": {"type": "string"},
                "question": {"type": "string"},
            },
            "required": ["action"],
        }
        guidelines = ("Your collaborator's commits are on origin: `git fetch` and `git log origin/main`, "
                      "`git diff HEAD origin/main` show them. The episode ends when the test file passes, when you "
                      "cannot pay for another paid action, or at the turn limit.")
        return ActionSpec(kind="json", schema=schema, help="\n".join(lines), guidelines=guidelines,
                          role="You are a software engineer recovering from an out-of-sync repository.")

    def step(self, action: Action) -> StepResult:
        if self.sandbox is None or self.config is None:
            raise SimyardError("step before reset", hint="reset the world first")
        self.turn += 1
        parsed = _parse(action, self.collaborative)
        info: dict[str, Any] = {}
        if isinstance(parsed, str):
            valid, text = False, parsed
        elif parsed[0] == "run":
            valid, text = True, self._run(parsed[1]["command"])
        elif parsed[0] == "propose":
            valid, text = self._propose(parsed[1], info)
        else:
            valid, text = self._ask(parsed[1]["question"], info)
        self.counts[parsed[0] if valid and not isinstance(parsed, str) else "invalid"] += 1
        self._measure_edits()
        terminated = self.success or self.balance < self.cheapest
        truncated = not terminated and self.turn >= self.max_turns
        if self.success:
            text += "\nWell done: the test file passes as it should. The episode is over."
        elif terminated:
            text += (f"\nYour balance (${self.balance:g}) cannot pay for another "
                     f"{'proposal or question' if self.collaborative else 'proposal'}: the episode is over.")
        elif truncated:
            text += "\nThe turn limit is reached: the episode is over."
        else:
            text += "\n" + self._status()
        info.update(valid=valid, feedback=_brief(text, FEEDBACK_CHARS), success=self.success,
                    progress=self.progress, balance=self.balance, metrics=self.metrics())
        return StepResult(Observation(text=text, data=self._data()), 1.0 if self.success else 0.0, terminated,
                          truncated, info)

    # ------------------------------------------------------------------------------------------------ actions

    def _run(self, command: str) -> str:
        assert self.sandbox is not None
        result = self.sandbox.run(command, env=COMMAND_ENV)
        return f"$ {_one_line(command)}\n{self._show(result)}"

    def _show(self, result: CommandResult) -> str:
        out = result.stdout + (("\n" if result.stdout and not result.stdout.endswith("\n") else "") + result.stderr
                               if result.stderr else "")
        notes = []
        if len(out) > self.output_chars:
            half = self.output_chars // 2
            notes.append(f"output cut to its first and last {half} characters ({len(out)} in all)")
            out = out[:half] + f"\n[... {len(out) - 2 * half} characters cut ...]\n" + out[-half:]
        if result.truncated:
            notes.append("the sandbox kept only part of a very long output")
        if result.timed_out:
            notes.append(f"killed after {self.command_timeout_s:g} s: the command did not finish")
        else:
            notes.append(f"exit code {result.exit_code}")
        return (out.rstrip("\n") + "\n" if out.strip() else "") + f"[{'; '.join(notes)}]"

    def _propose(self, payload: Mapping[str, Any], info: dict[str, Any]) -> tuple[bool, str]:
        assert self.sandbox is not None and self.workspace is not None
        if self.balance < self.proposal_cost:
            return False, f"A proposal costs ${self.proposal_cost:g} and your balance is ${self.balance:g}."
        named = self._repo_path(payload.get("file"))
        if isinstance(named, str) and named.startswith("!"):
            return False, named[1:]
        self.balance -= self.proposal_cost
        instance = self.instance
        run = run_pytest(self.sandbox, instance.test_file, timeout_s=self.config.test_timeout_s, python=self.python)
        passed = _passes(run, instance)
        names_file = named == instance.file
        function = str(payload.get("function") or "").strip()
        names_func = names_file and function in {instance.function, instance.name} | {instance.function.split("#")[0]}
        self.la_file = self.la_file or names_file or names_func
        self.la_func = self.la_func or names_func
        fixed = [t for t in instance.fail_to_pass if run.outcomes.get(t) == "passed"]
        self.progress = 1.0 if passed else len(fixed) / max(1, len(instance.fail_to_pass))
        info["proposal"] = {"file": payload.get("file"), "function": payload.get("function"), "passed": passed,
                            "exit_code": run.exit_code, "timed_out": run.timed_out}
        if passed:
            self.success, self.success_turn = True, self.turn
            self.la_file = self.la_func = True  # SyncMind's overall LA counts a solved instance as localised
            return True, f"[Balance: ${self.balance:g} left] The test file passes."
        log = error_log(run.log.replace(str(self.workspace.path), "."), LOG_CHARS)
        log = _ADDRESS.sub(r"\1 at 0x...", _TIMING.sub(r"\1\2", log))
        why = f"timed out after {self.config.test_timeout_s:g} s" if run.timed_out else "still fails"
        return True, f"[Balance: ${self.balance:g} left] The test file {why}:\n{log.rstrip()}\nPlease try again."

    def _ask(self, question: str, info: dict[str, Any]) -> tuple[bool, str]:
        if self.balance < self.question_cost:
            return False, f"A question costs ${self.question_cost:g} and your balance is ${self.balance:g}."
        self.balance -= self.question_cost
        answer = self.collaborator.answer(self.instance, question)
        info["question"], info["answer"] = question, answer.text
        if answer.call is not None:
            info["collaborator_call"] = {k: v for k, v in answer.call.to_dict().items()
                                         if k not in ("text", "token_ids", "logprobs")}
        return True, f"[Balance: ${self.balance:g} left] Collaborator: {answer.text}"

    def _repo_path(self, named: Any) -> str | None:
        """The repository-relative path a proposal names; None when it names none; `!message` when it is bad."""
        if named is None or (isinstance(named, str) and not named.strip()):
            return None
        if not isinstance(named, str):
            return "!`file` must be a path string, relative to the repository root."
        assert self.workspace is not None and self.sandbox is not None
        text = named.strip()
        for prefix in (self.sandbox.workdir.rstrip("/") + "/", str(self.workspace.path) + "/", "./", "test_repo/"):
            if text.startswith(prefix):
                text = text[len(prefix):]
        try:
            path = inside(self.workspace.path, text)
        except SandboxError:
            return f"!{named!r} is outside the repository; name a file in it (relative to its root)."
        if not path.is_file():
            return f"!There is no file {named!r} in the repository; name the file you changed (relative to its root)."
        return path.relative_to(self.workspace.path.resolve()).as_posix()

    def _measure_edits(self) -> None:
        """Whether the target file and function differ from the agent's belief now (what the agent touched)."""
        assert self.workspace is not None
        instance = self.instance
        try:
            text = (self.workspace.path / instance.file).read_text()
        except (OSError, UnicodeDecodeError):
            self.edited_file = self.edited_func = True
            return
        self.edited_file = text != self._belief_text
        if not self.edited_file:
            self.edited_func = False
            return
        try:
            found = functions_in(text).get(instance.function)
        except SyntaxError:
            found = None
        self.edited_func = found is None or found.code != self._belief_code

    # ------------------------------------------------------------------------------------------------ reports

    def metrics(self) -> dict[str, Any]:
        """The episode's measures so far (SyncMind's, research notes section 3), reported with every step.

        Labels `setting` and `mode` split reports. All turns and invalid turns are the result's `steps` and
        `invalid_actions`, so only the other kinds are here; `asr` is question turns / turns.
        """
        turns = max(1, self.turn)
        metrics: dict[str, Any] = {
            "setting": self.instance.setting, "mode": self.config.mode if self.config else "",
            "la_file": float(self.la_file), "la_func": float(self.la_func),
            "edit_file": float(self.edited_file), "edit_func": float(self.edited_func),
            "run_turns": self.counts["run"], "proposal_turns": self.counts["propose"],
            "question_turns": self.counts["ask"], "asr": self.counts["ask"] / turns, "balance": self.balance,
        }
        if self.success_turn is not None:
            metrics["turns_to_success"] = self.success_turn
        return metrics

    def _status(self) -> str:
        return f"[Balance: ${self.balance:g} | turn {self.turn} of {self.max_turns}]"

    def _data(self) -> dict[str, Any]:
        return {"balance": self.balance, "turn": self.turn, "turns_left": self.max_turns - self.turn,
                "mode": self.config.mode if self.config else "", "success": self.success}

    def state(self) -> dict[str, Any]:
        return {"turn": self.turn, "balance": self.balance, "counts": dict(self.counts), "success": self.success,
                "la_file": self.la_file, "la_func": self.la_func} if self.config else {}

    # ------------------------------------------------------------------------------------------------ oracle

    def oracle(self) -> Action:
        """Knows the gold code: asks once in collaborative mode, writes the gold function, proposes."""
        assert self.workspace is not None and self.config is not None
        instance = self.instance
        if self.collaborative and self.counts["ask"] == 0 and self.balance >= self.question_cost + self.proposal_cost:
            return {"action": "ask", "question": "Which function is out of sync, and what should its code be?"}
        target = self.workspace.path / instance.file
        try:
            current = target.read_text()
            fixed = splice(current, instance.function, instance.gold_code)
        except (OSError, KeyError, SyntaxError, UnicodeDecodeError):
            current, fixed = None, instance.world_file
        if current != fixed:
            data = base64.b64encode(fixed.encode()).decode()
            return {"action": "run", "command": f"printf %s {data} | base64 -d > {shlex.quote(instance.file)}"}
        return {"action": "propose", "file": instance.file, "function": instance.function}

    def sample_action(self, rng: np.random.Generator) -> Action:
        file = self.instance.file if self.config else "README"
        options: list[Action] = [
            {"action": "run", "command": "git status --short"},
            {"action": "run", "command": "git fetch -q && git log --oneline origin/main -3"},
            {"action": "run", "command": f"cat {shlex.quote(file)}"},
            {"action": "propose", "file": file, "function": "main"},
            {"action": "ask", "question": "Which file changed?"},
            {"action": "dance"},
        ]
        return options[int(rng.integers(len(options)))]

    def close(self) -> None:
        try:
            self._end_episode()
        finally:
            if self._owned_scope:
                self.collaborator.close()
                self.resources.close()


def _parse(action: Action, collaborative: bool) -> tuple[str, Mapping[str, Any]] | str:
    """(kind, payload) of a well-formed action, or what is wrong with it."""
    if isinstance(action, str):
        try:
            action = json.loads(action)
        except ValueError:
            return 'An action is a JSON object such as {"action": "run", "command": "git status"}.'
    if not isinstance(action, Mapping):
        return 'An action is a JSON object such as {"action": "run", "command": "git status"}.'
    kinds = ("run", "propose", "ask") if collaborative else ("run", "propose")
    kind = str(action.get("action", "")).strip().lower()
    if kind == "ask" and not collaborative:
        return "Questions are not available: you work on your own in this episode (independent mode)."
    if kind not in kinds:
        return f"Unknown action {action.get('action')!r}; the actions are: {', '.join(kinds)}."
    field = {"run": "command", "ask": "question"}.get(kind)
    if field is not None and (not isinstance(action.get(field), str) or not action[field].strip()):
        return f'"{kind}" needs a non-empty "{field}" string.'
    return kind, action


def _passes(run: TestRun, instance: Instance) -> bool:
    """Every test ends as in the gold run (per-test outcomes; SyncBench's counts where an instance has no outcomes)."""
    if run.timed_out:
        return False
    if instance.gold_outcomes:
        return run.outcomes == instance.gold_outcomes
    return run.exit_code == 0 and run.summary == instance.gold_summary


#: pytest's closing line, `=== 1 failed, 3 passed in 0.12s ===`: its duration is dropped from the logs the agent sees
#: (with object addresses, below), so an episode's observations depend on the task, the seed and the agent only.
_TIMING = re.compile(r"^(=+ .*?) in [\d.]+s(?: \([^)]*\))?( =+)$", re.MULTILINE)
#: Object addresses in reprs (`<pkg.Ledger object at 0x7f41...>`) change with every run; they tell the agent nothing.
_ADDRESS = re.compile(r"(<[\w.]+ object) at 0x[0-9a-f]+")


def _brief(text: str, limit: int) -> str:
    """`text` cut to its first and last `limit / 2` characters, saying so."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
