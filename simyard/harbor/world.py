"""The `harbor` world: a Harbor task folder run as an episode, its container built from environment/Dockerfile.

An episode, as Harbor runs a trial:

1. The image is built from environment/ (content-tagged by `simyard.sandboxes.images`, so once per machine; once per
   worker scope it is not even looked up again), and a container is started from it: no network, the task's CPUs
   and memory, the host directory of the episode bound at /logs (so /logs/verifier/ is readable from the host).
2. The agent acts with shell commands: each action is one command, run with `bash -c` in the image's WORKDIR (a new
   shell each time: `cd` and `export` do not carry over, files do). `done` (or `submit`) ends its turn; so do the
   turn cap (`max_turns`) and the agent timeout ([agent] timeout_sec, counted from the reset; the command running
   at the deadline is killed).
3. Only then are tests/ uploaded to /tests (emptied first, as /logs/verifier is, so nothing the agent left there
   counts), and `bash /tests/test.sh` runs under [verifier] timeout_sec. Its score is /logs/verifier/reward.json
   (an object of named numbers; read first, as Harbor does) or reward.txt (one number). The episode's reward is
   reward.json's `reward` (else the mean of its values) or reward.txt's number; success is a reward of 1 or more.
   Every reward goes in `info["rewards"]` and, as `reward` / `reward_<name>`, in `info["metrics"]`.

A verifier that runs out of time, or writes no reward, or one that is not a number, is the task's error, never a
score: the step raises `HarborVerifierError` and the episode ends as `world_error`. The oracle uploads solution/ to
/solution (only then: the agent never sees it) and runs `bash /solution/solve.sh`, then `done`; a task without a
solution gets `done` alone.

Containers never have a network: a task with `allow_internet = true` runs offline too, and `info["network"]` says
`off`. The commands run as the host user (root when simyard runs as root), with every capability dropped.
"""

from __future__ import annotations

import base64
import io
import json
import math
import shlex
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from simyard.harbor.format import HarborConfig, read_task, to_task
from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.errors import SimyardError, TaskFileError
from simyard.platform.resources import Resources
from simyard.sandboxes.base import CommandResult, Limits, Sandbox, SandboxLost

__all__ = ["DAEMON_HINT", "END_WORDS", "HarborEnv", "HarborVerifierError"]

#: Actions that end the agent's turn and run the verifier.
END_WORDS = ("done", "submit")
DAEMON_HINT = "Harbor tasks run in Docker: start the daemon (dockerd; `bash scripts/setup.sh` as root does)"
#: Where the episode's host directory appears in the container (Harbor's log root; tests write rewards under it).
LOGS = "/logs"
_UPLOAD_TIMEOUT_S = 120.0
_SHOWN_CHARS = 4000  # of the verifier's output, in info and the last observation
_NOT_RUN = (126, 127)
_HELP = (
    "Each action is one shell command, run with bash in the task's container, starting in its working directory "
    "(a new shell each time: `cd` and `export` do not carry over, files do; chain with `&&` or use several lines). "
    "The container has no network. When the task is done, send `done`: the task's tests then run and score the "
    "result; nothing can be changed after that. If your replies separate actions with ' || ', use `if ...; then ...; "
    "fi` instead of the shell's `||` inside a command."
)


class HarborVerifierError(SimyardError):
    """The task's verifier failed to give a score (it timed out, wrote no reward, or an unreadable one): the task's
    error, never a score for the agent."""


class HarborEnv(Env):
    """A Harbor task folder as a world; see the module docstring for the episode.

    Args:
        resources: The worker's scope: images are built (or found) once per scope, the Docker client shared.
        max_turns: Commands before the verifier runs regardless (default: the task's own, 50 unless the suite
            was read with another). The runner's step cap is twice the task's own; above that, raise `--max-steps`
            too, or episodes end unscored.
        command_timeout_s: Longest single command (default: none beyond the agent timeout left).
        output_bytes: Bytes of each command's stdout and of its stderr shown to the agent (the middle is dropped).
        pids: Processes the container may hold at once.
        run_id: The containers' `simyard.run` label (default: per process).
    """

    name = "harbor"
    config_model = HarborConfig

    def __init__(
        self,
        resources: Resources | None = None,
        max_turns: int | None = None,
        command_timeout_s: float | None = None,
        output_bytes: int = 16_384,
        pids: int = 1024,
        run_id: str | None = None,
    ) -> None:
        if max_turns is not None and int(max_turns) < 1:
            raise SimyardError(f"max_turns must be at least 1, not {max_turns}", hint="e.g. --world-opt max_turns=30")
        self.resources = resources
        self.max_turns_option = None if max_turns is None else int(max_turns)
        self.command_timeout_s = None if command_timeout_s is None else float(command_timeout_s)
        self.output_bytes = int(output_bytes)
        self.pids = int(pids)
        self.run_id = run_id
        self.sandbox: Sandbox | None = None
        self.logs: Path | None = None
        self.task: Task | None = None
        self.config: HarborConfig | None = None
        self.workdir = "/"
        self.turns = 0
        self.max_turns = 1
        self.finished = False
        self.solution_sent = False
        self.deadline = 0.0
        self._workdirs: dict[str, str] = {}

    # --- run and episode set-up ------------------------------------------------------------------------------------

    @classmethod
    def prepare_run(cls, resources: Resources, options: dict[str, Any]) -> None:
        """Once per run, before any episode: the Docker daemon must answer, or the run stops with one line."""
        from simyard.sandboxes.docker import docker_client

        with _daemon_hint():
            docker_client()

    def _image(self, config: HarborConfig) -> tuple[str, str]:
        """The task's image tag (built when missing) and its working directory."""
        from simyard.sandboxes.docker import docker_client
        from simyard.sandboxes.images import build_image, image_resource

        environment = Path(config.path) / "environment"
        build = {"dockerfile": environment / "Dockerfile", "context": environment, "timeout_s": config.build_timeout_s}
        tag = image_resource(self.resources, **build) if self.resources is not None else build_image(**build)
        if tag not in self._workdirs:
            attrs = docker_client(resources=self.resources).images.get(tag).attrs
            self._workdirs[tag] = (attrs.get("Config") or {}).get("WorkingDir") or "/"
        return tag, self._workdirs[tag]

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        """Build (or find) the image, start a fresh container, and show the instruction.

        Raises:
            TaskFileError: the task folder is gone or no longer a task folder.
            SandboxError: the image does not build, or the container cannot start.
            SandboxLost: the Docker daemon is unreachable (an infrastructure error: the episode is retried).
        """
        from simyard.sandboxes.factory import make_sandbox

        self._release()
        config = HarborConfig.model_validate(task.config)
        folder = Path(config.path)
        for name in ("environment/Dockerfile", "tests/test.sh"):
            if not (folder / name).is_file():
                raise TaskFileError(
                    f"Harbor task {task.id}: missing {name} ({folder / name})",
                    hint="the task folder must stay where the suite was read from",
                )
        with _daemon_hint():
            image, self.workdir = self._image(config)
            self.logs = Path(tempfile.mkdtemp(prefix="simyard-harbor-"))
            for sub in ("agent", "verifier"):
                (self.logs / sub).mkdir(mode=0o777)
            cpu_s = int(max(config.agent_timeout_s, config.verifier_timeout_s)) + 60
            limits = Limits(
                timeout_s=config.agent_timeout_s,
                cpu_s=cpu_s,
                memory_mb=config.memory_mb,
                pids=self.pids,
                output_bytes=self.output_bytes,
                cpus=config.cpus,
            )
            options: dict[str, Any] = {"image": image, "read_only": False, "network": False, "workdir": LOGS}
            if self.run_id:
                options["run_id"] = self.run_id
            self.sandbox = make_sandbox("docker", self.logs, limits, resources=self.resources, **options)
        self.task, self.config = task, config
        self.max_turns = self.max_turns_option or config.max_turns
        self.turns, self.finished, self.solution_sent = 0, False, False
        self.deadline = time.monotonic() + config.agent_timeout_s
        # the instruction is the task's (agents restate it every turn); the observation says where and how long
        text = (
            f"You are in {self.workdir} in the task's container. You have {self.max_turns} commands and "
            f"{config.agent_timeout_s:g} s. Send `done` when the task is done."
        )
        return Observation(text=text, data=self._data())

    def _data(self) -> dict[str, Any]:
        # nothing read off the clock: the same seed and actions must give the same observations and infos
        assert self.config is not None
        return {
            "workdir": self.workdir,
            "turns_left": self.max_turns - self.turns,
            "agent_timeout_s": self.config.agent_timeout_s,
            "network": "off",
            "allow_internet": self.config.allow_internet,
        }

    def action_spec(self) -> ActionSpec:
        return ActionSpec(kind="text", help=_HELP, role="You are an agent working in a Linux container on a task.")

    # --- acting ----------------------------------------------------------------------------------------------------

    def step(self, action: Action) -> StepResult:
        """Run one command, or end the agent's turn (`done`) and score it.

        Raises:
            HarborVerifierError: the verifier timed out or wrote no readable reward (the episode's world_error).
            SandboxLost: the container or the daemon went away (an infrastructure error: retried).
        """
        if self.sandbox is None or self.config is None:
            raise RuntimeError("step() before reset()")
        if self.finished:
            return self._invalid("the episode is over: the tests have already run")
        if not isinstance(action, str):
            return self._invalid(f"an action is a shell command (text) or `done`, not {type(action).__name__}")
        command = action.strip()
        if not command:
            return self._invalid("the command is empty; send a shell command, or `done` when the task is done")
        self.turns += 1
        if command.lower().rstrip(".!") in END_WORDS:
            return self._verify("done", "")
        left = self.deadline - time.monotonic()
        if left <= 0:
            return self._verify("agent_timeout", "The agent's time was up before this command; it did not run.\n")
        limit = left if self.command_timeout_s is None else min(left, self.command_timeout_s)
        with _daemon_hint():
            result = self.sandbox.run(self._shell(command), timeout_s=limit)
        shown = _show(command, result, limit)
        if result.timed_out and time.monotonic() >= self.deadline:
            return self._verify("agent_timeout", shown + "\nThe agent's time is up.\n")
        if self.turns >= self.max_turns:
            return self._verify("turn_limit", shown + f"\nThat was the last of {self.max_turns} commands.\n")
        if result.exit_code in _NOT_RUN:
            # the shell found nothing to run (127) or could not run it (126): the one shell answer that means the
            # action itself was wrong rather than what it did
            message = "not a command the container can run (exit code %d); send a shell command, or `done`"
            return self._invalid(message % result.exit_code, shown)
        info = {
            "valid": True,
            "feedback": f"exit code {result.exit_code}" if not result.timed_out else "timed out",
            "success": False,
            "progress": 0.0,
            "exit_code": result.exit_code,
            "timed_out": result.timed_out,
            "output_truncated": result.truncated,
        }
        return StepResult(Observation(text=shown, data=self._data()), 0.0, False, False, info)

    def _shell(self, command: str) -> list[str]:
        # `bash -c`, not a login shell: Debian's /etc/profile resets PATH, which would hide an image's ENV PATH.
        return ["bash", "-c", f"cd {shlex.quote(self.workdir)} 2>/dev/null\n{command}"]

    def _invalid(self, message: str, shown: str = "") -> StepResult:
        text = f"{shown}\nInvalid action: {message}" if shown else f"Invalid action: {message}"
        info = {"valid": False, "feedback": message, "success": False, "progress": 0.0}
        data = self._data() if self.config is not None else {}
        return StepResult(Observation(text=text, data=data), 0.0, False, False, info)

    # --- the verifier ----------------------------------------------------------------------------------------------

    def _verify(self, ended_by: str, prefix: str) -> StepResult:
        """Upload tests/, run test.sh, read the reward: the last step of every episode."""
        assert self.sandbox is not None and self.config is not None and self.task is not None and self.logs
        self.finished = True
        verifier_dir = self.logs / "verifier"
        shutil.rmtree(verifier_dir, ignore_errors=True)  # nothing the agent wrote there counts
        verifier_dir.mkdir(mode=0o777)
        timeout = self.config.verifier_timeout_s
        with _daemon_hint():
            _upload(self.sandbox, Path(self.config.path) / "tests", "/tests")
            result = self.sandbox.run(
                ["bash", "-c", f"cd {shlex.quote(self.workdir)} 2>/dev/null; bash /tests/test.sh"], timeout_s=timeout
            )
        output = (result.stdout + ("\n" + result.stderr if result.stderr.strip() else "")).strip()
        (verifier_dir / "test-stdout.txt").write_text(output)
        if result.timed_out:
            raise HarborVerifierError(
                f"the verifier of Harbor task {self.task.id} did not finish within {timeout:g} s "
                "([verifier] timeout_sec)",
                hint="raise [verifier] timeout_sec in task.toml, or fix tests/test.sh",
            )
        rewards, source = _read_rewards(verifier_dir, self.task.id, result, output)
        reward = rewards["reward"] if "reward" in rewards else float(np.mean(list(rewards.values())))
        success = reward >= 1.0
        metrics: dict[str, Any] = {key if key == "reward" else f"reward_{key}": value for key, value in rewards.items()}
        metrics.update(agent_timed_out=ended_by == "agent_timeout", turns=self.turns)
        info = {
            "valid": True,
            "feedback": f"the tests ran: reward {reward:g}",
            "success": success,
            "progress": min(1.0, max(0.0, reward)),
            "rewards": rewards,
            "reward_file": source,
            "ended_by": ended_by,
            "agent_timed_out": ended_by == "agent_timeout",
            "verifier_exit_code": result.exit_code,
            "verifier_output": _tail(output),
            "network": "off",
            "allow_internet": self.config.allow_internet,
            "metrics": metrics,
        }
        text = f"{prefix}The tests ran: reward {reward:g} ({'success' if success else 'not solved'})."
        observation = Observation(text=text.lstrip(), data={**self._data(), "rewards": rewards})
        # `done` is the agent's own end; a cap or the timeout is the world cutting the episode short
        return StepResult(observation, float(reward), ended_by == "done", ended_by != "done", info)

    # --- the oracle, sampling, state -------------------------------------------------------------------------------

    def oracle(self) -> Action | list[Action]:
        """`bash /solution/solve.sh` then `done` (solution/ is uploaded now, for the oracle only); `done` alone for
        a task without a solution, or once the solution has run."""
        if self.sandbox is None or self.config is None:
            raise RuntimeError("oracle() before reset()")
        if not self.config.has_solution or self.solution_sent or self.finished:
            return "done"
        with _daemon_hint():
            _upload(self.sandbox, Path(self.config.path) / "solution", "/solution")
        self.solution_sent = True
        return ["bash /solution/solve.sh", "done"]

    def sample_action(self, rng: np.random.Generator) -> Action:
        """A harmless look around (or `done`), for the random agent; outputs that never depend on the clock."""
        return str(rng.choice(["ls", "pwd", "cat /etc/os-release", "ls /", "echo hello", "done"]))

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """A small task folder made for `seed` (cached under ~/.cache/simyard/harbor-samples): write the sum of two
        numbers to /app/answer.txt, with a solution, on simyard's base image (one image for every seed)."""
        from simyard.harbor.samples import sample_folder

        return to_task(read_task(sample_folder(seed)))

    def state(self) -> dict[str, Any]:
        return {"task": self.task.id if self.task else None, "turns": self.turns, "finished": self.finished}

    def _release(self) -> None:
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is not None:
            sandbox.close()
        logs, self.logs = self.logs, None
        if logs is not None:
            shutil.rmtree(logs, ignore_errors=True)

    def close(self) -> None:
        """Remove the container and the episode's host directory. Safe to call twice."""
        self._release()


# ------------------------------------------------------------------------------------------------ helpers


@contextmanager
def _daemon_hint() -> Iterator[None]:
    """Re-raise a lost daemon with Harbor's hint (the sandbox's own suggests bwrap, which cannot build a
    Dockerfile); the exception stays a `SandboxLost`, so the episode is retried as infrastructure."""
    try:
        yield
    except SandboxLost as exc:
        if exc.hint == DAEMON_HINT:
            raise
        raise SandboxLost(exc.message, hint=DAEMON_HINT) from exc


def _upload(sandbox: Sandbox, folder: Path, dest: str) -> None:
    """Copy `folder` to `dest` in the container (emptied first), as a tar through the command's stdin: the sandbox
    interface alone, so no bind ever shows the folder to the agent early. Needs sh, base64 and tar in the image."""
    buffer = io.BytesIO()

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        if folder.is_dir():
            archive.add(folder, arcname=".", filter=owned_by_root)
    payload = base64.b64encode(buffer.getvalue()).decode()
    quoted = shlex.quote(dest)
    script = f"rm -rf {quoted} && mkdir -p {quoted} && base64 -d | tar -xzf - -C {quoted}"
    result = sandbox.run(["sh", "-c", script], timeout_s=_UPLOAD_TIMEOUT_S, stdin=payload)
    if not result.ok:
        raise HarborVerifierError(
            f"could not copy {folder.name}/ to {dest} in the container: "
            f"{(result.stderr or result.stdout).strip()[:300] or 'timed out'}",
            hint="the image needs sh, base64 and tar, and / must be writable",
        )


def _read_rewards(verifier_dir: Path, task_id: str, result: CommandResult, output: str) -> tuple[dict[str, float], str]:
    """The rewards test.sh wrote (reward.json first, then reward.txt) and which file held them."""
    json_path, txt_path = verifier_dir / "reward.json", verifier_dir / "reward.txt"
    where = f"Harbor task {task_id}: /logs/verifier"
    hint = "tests/test.sh must write a number to /logs/verifier/reward.txt (or an object of numbers to reward.json)"
    if json_path.is_file():
        try:
            data = json.loads(json_path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise HarborVerifierError(f"{where}/reward.json is not JSON: {exc}", hint=hint) from None
        if not isinstance(data, dict) or not data:
            raise HarborVerifierError(
                f"{where}/reward.json is not an object of named rewards: {_short(data)}", hint=hint
            )
        rewards = {}
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise HarborVerifierError(
                    f"{where}/reward.json: {key} is {_short(value)}, not a finite number", hint=hint
                )
            rewards[str(key)] = float(value)
        return rewards, "reward.json"
    if txt_path.is_file():
        text = txt_path.read_text(errors="replace").strip()
        if not text:
            raise HarborVerifierError(f"{where}/reward.txt is empty", hint=hint)
        try:
            value = float(text)
        except ValueError:
            raise HarborVerifierError(f"{where}/reward.txt holds {_short(text)}, not a number", hint=hint) from None
        if not math.isfinite(value):
            raise HarborVerifierError(f"{where}/reward.txt holds {text}, not a finite number", hint=hint)
        return {"reward": value}, "reward.txt"
    tail = " ".join(output[-300:].split())
    raise HarborVerifierError(
        f"{where}: test.sh (exit {result.exit_code}) wrote no reward.txt or reward.json"
        + (f"; its output ends: {tail}" if tail else ""),
        hint=hint,
    )


def _show(command: str, result: CommandResult, limit: float) -> str:
    """What the agent reads after a command: the command, its output, how it ended."""
    parts = [f"$ {command}"]
    if result.stdout.strip():
        parts.append(result.stdout.rstrip("\n"))
    if result.stderr.strip():
        parts.append("[stderr]\n" + result.stderr.rstrip("\n"))
    if result.timed_out:
        parts.append(f"[killed after {limit:.0f} s: the time limit]")
    else:
        parts.append(f"[exit code {result.exit_code}]")
    if result.truncated:
        parts.append("[output cut in the middle: it was longer than the limit]")
    return "\n".join(parts)


def _tail(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else "[...]\n" + text[-_SHOWN_CHARS:]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
