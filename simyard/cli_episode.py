"""`simyard episode run|replay`: one episode in the terminal, printed as it happens and recorded for replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simyard.cli_common import console
from simyard.platform import registry
from simyard.platform.api import Observation, Task
from simyard.platform.episode import EpisodeResult, Limits, StepRecord
from simyard.platform.errors import SimyardError, UnknownNameError


class LivePrinter:
    """A recorder that prints each step as it happens (the person watching an automatic agent sees the episode)."""

    def __init__(self, show_observations: bool) -> None:
        self.show_observations = show_observations

    def start(self, task: Task, seed: int | None, observation: Observation) -> None:
        console.rule(f"{task.id}  (world {task.world}, seed {seed})")
        if self.show_observations:  # a person playing is shown the task and observations by the human agent
            console.print(task.instruction, markup=False)
            console.print(observation.text, markup=False)

    def step(self, record: StepRecord) -> None:
        valid = "valid" if record.info.get("valid", True) else "[red]invalid[/red]"
        tokens = sum((call.completion_tokens or 0) for call in record.calls)
        extra = f"  tokens={tokens}" if tokens else ""
        console.print(f"[bold]step {record.index}[/bold]  action={record.action!r}  reward={record.reward:+.2f}  "
                      f"{valid}{extra}", highlight=False)
        if self.show_observations:
            console.print(record.observation.text, markup=False)

    def finish(self, result: EpisodeResult) -> None:
        verdict = "[green]success[/green]" if result.success else "[red]no success[/red]"
        console.print(f"{verdict}  reason={result.reason}  steps={result.steps}  invalid={result.invalid_actions}  "
                      f"reward={result.reward:.2f}  progress={result.progress:.2f}")
        if result.error:
            console.print(f"[red]error:[/red] {result.error}", highlight=False)


class _Fanout:
    """Hands each recorder call to several recorders (the printer and the run writer)."""

    def __init__(self, *recorders: Any) -> None:
        self.recorders = recorders

    def start(self, task: Task, seed: int | None, observation: Observation) -> None:
        for recorder in self.recorders:
            recorder.start(task, seed, observation)

    def step(self, record: StepRecord) -> None:
        for recorder in self.recorders:
            recorder.step(record)

    def finish(self, result: EpisodeResult) -> None:
        for recorder in self.recorders:
            recorder.finish(result)


def choose_task(world: str, task_id: str | None, suite: str | None, index: int | None, seed: int) -> Task:
    """The task named by the command line: by id, by position in a suite, or generated from the seed."""
    if index is not None and suite is None:
        raise SimyardError("--index needs --suite", hint="e.g. --suite ragen --index 3")
    if suite is not None:
        tasks = [task for task in registry.load_suite(suite) if task.world == world]
        if not tasks:
            raise UnknownNameError(f"suite {suite!r} has no tasks for world {world!r}", hint="see simyard tasks list")
        if task_id is not None:
            return registry.find_task(tasks, task_id, suite)
        position = index or 0
        if not 0 <= position < len(tasks):
            raise SimyardError(f"--index {position} is out of range", hint=f"suite {suite!r} has {len(tasks)} tasks "
                               f"of world {world!r}: use 0..{len(tasks) - 1}")
        return tasks[position]
    if task_id is not None:
        for name in registry.names("suite"):
            for task in registry.load_suite(name):
                if task.id == task_id and task.world == world:
                    return task
        raise UnknownNameError(f"no suite has a task {task_id!r} of world {world!r}", hint="name the --suite")
    try:
        return registry.world_class(world).sample_task(seed)
    except NotImplementedError as exc:
        raise SimyardError(str(exc), hint="pass --suite and --index or --task") from None


def run_interactive_episode(world: str, agent_name: str, agent_options: dict[str, Any], task_id: str | None,
                            suite: str | None, index: int | None, seed: int, max_steps: int | None,
                            time_limit_s: float | None, out: Path | None) -> EpisodeResult:
    """Run and record one episode, printing it as it goes."""
    from simyard.platform.episode import run_episode_with
    from simyard.platform.runlog import single_episode_writer

    task = choose_task(world, task_id, suite, index, seed)
    agent = registry.make_agent(agent_name, **agent_options)
    env = registry.make(world)
    printer = LivePrinter(show_observations=agent_name != "human")
    try:
        with single_episode_writer(out, task, agent_name, agent_options, seed) as writer:
            result = run_episode_with(env, agent, task, seed, Limits(max_steps=max_steps, time_limit_s=time_limit_s),
                                      _Fanout(printer, writer))
            console.print(f"recorded in {writer.episode_dir}", markup=False)
    finally:
        env.close()
        agent.close()
    return result


def replay_episode(episode_dir: Path) -> None:
    """Print a recorded trajectory: the first observation, then every step."""
    from simyard.platform.runlog import read_trajectory

    trajectory = read_trajectory(episode_dir)
    header, steps = trajectory[0], trajectory[1:]
    console.rule(f"{header.get('task', {}).get('id', episode_dir.name)} (seed {header.get('seed')})")
    console.print(header.get("observation", {}).get("text", ""), markup=False)
    for step in steps:
        info = step.get("info", {})
        valid = "valid" if info.get("valid", True) else "invalid"
        console.print(f"step {step.get('index')}  action={step.get('action')!r}  reward={step.get('reward', 0):+.2f}  "
                      f"{valid}", markup=False, highlight=False)
        console.print(step.get("observation", {}).get("text", ""), markup=False)
