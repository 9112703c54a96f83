"""`simyard episode run|replay`: one episode in the terminal, printed as it happens and recorded for replay.

Everything a world, a task file, an agent or a model wrote is printed as literal text (`rich.text.Text` or
`markup=False`): an instruction holding `[/red]` or a reply holding `[/think]` shows as written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from simyard.cli.common import (
    EXIT_CODES_HELP,
    ApiKeyEnvOpt,
    BaseUrlOpt,
    ModelOpt,
    WorldOpt,
    console,
    err_console,
    options_for_world,
    parse_options,
    positive,
    with_model_flags,
)
from simyard.platform import registry
from simyard.platform.api import ModelCall, Observation, Task
from simyard.platform.episode import EpisodeResult, Limits, StepRecord
from simyard.platform.errors import RunDirError, SimyardError, UnknownNameError

if TYPE_CHECKING:
    from simyard.cli.takeover import TakeoverAgent
    from simyard.platform.fork import ForkPoint

episode_app = typer.Typer(help="Run one episode and watch it, or replay a recorded one.", no_args_is_help=True)

AgentOpt = Annotated[list[str] | None, typer.Option("--agent-opt", help="Agent option key=value (repeatable; "
                                                    "see `simyard agents info NAME`).")]


def _positive_fps(value: float) -> float:
    """--fps is a rate: refuse zero and negative ones in one line (`positive` speaks of seconds for floats)."""
    if not value > 0:
        raise SimyardError(f"--fps must be a positive number of frames per second, got {value:g}",
                           hint="e.g. --fps 2")
    return value


@episode_app.command("run", epilog=EXIT_CODES_HELP)
def episode_run(
    world: Annotated[str | None, typer.Argument(help="World name (see `simyard env list`); with --from, the "
                                                     "recorded episode's world.", show_default=False)] = None,
    agent: Annotated[str, typer.Option(help="human, random, oracle, openai, local, or a plugin's agent "
                                            "(see `simyard agents list`).")] = "human",
    task: Annotated[str | None, typer.Option(help="Task id (from --suite, or searched in every suite).")] = None,
    suite: Annotated[str | None, typer.Option(help="Suite name or task file to take the task from.")] = None,
    index: Annotated[int | None, typer.Option(help="Position among the suite's tasks of this world.")] = None,
    seed: Annotated[int | None, typer.Option(help="Episode seed (and the task generator's seed without "
                                                  "--task/--suite).", show_default="0")] = None,
    agent_opt: AgentOpt = None,
    world_opt: WorldOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    max_steps: Annotated[int | None, typer.Option(help="Override the task's step cap.", callback=positive(
        "--max-steps", "omit it to use the task's own cap"))] = None,
    max_invalid: Annotated[int | None, typer.Option(help="Override the task's cap on invalid actions.",
                                                    callback=positive("--max-invalid", "omit it to use the "
                                                                      "task's own cap"))] = None,
    time_limit: Annotated[float | None, typer.Option(help="Wall-clock limit for the episode, seconds.",
                                                     callback=positive("--time-limit", "omit it for no time limit",
                                                                       kind=float))] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory to record into (default runs/episode-...; a fork: "
                                                  "RUN/forks/<episode>-step<K>-<agent>-<time> beside its parent, "
                                                  "where the viewer finds it).")] = None,
    from_episode: Annotated[Path | None, typer.Option("--from", help="Fork this recorded episode directory: replay "
                                                      "its actions up to --step, checking the world retraces "
                                                      "them, then let --agent play on.")] = None,
    step: Annotated[int | None, typer.Option("--step", help="With --from: the recorded steps to replay (0 starts "
                                             "from the reset).")] = None,
    takeover: Annotated[bool | None, typer.Option("--takeover/--no-takeover", help="Let a person pause a model "
                                                  "agent (Ctrl-C once, or Enter) and play or edit its actions.",
                                                  show_default="on at a terminal")] = None,
    imports: Annotated[list[str] | None, typer.Option("--import", help="Plugin module or .py file that registers "
                                                      "worlds/agents (repeatable).")] = None,
) -> None:
    """Run one episode, printing each step as it happens, and record it.

    As the human agent, type an action by number or name; `:q` or Ctrl-D ends the episode (a normal end, exit 0).
    Watching a model at a terminal, press Ctrl-C once (or Enter) to take over before its next action: Enter runs
    its proposal, or edit it or type your own; `:c` hands control back; a second Ctrl-C quits (the episode is kept).

    Example: simyard episode run sokoban --seed 3 --agent oracle

    Example: simyard episode run sokoban --agent random --world-opt tile_px=32

    Example: simyard episode run --from runs/episode-sokoban-.../episodes/sokoban-6x6-1b-003__s3 --step 4 --agent human
    """
    from simyard.platform.plugins import import_plugins

    import_plugins(imports or ())
    options = with_model_flags(parse_options(agent_opt), base_url, model, api_key_env) or {}
    limits = Limits(max_steps=max_steps, max_invalid=max_invalid, time_limit_s=time_limit)
    if takeover is None:
        takeover = agent != "human" and sys.stdin.isatty() and sys.stdout.isatty()
    if from_episode is not None or step is not None:
        result = run_fork(from_episode, step, world, agent, options, (task, suite, index, seed), world_opt,
                          limits, out, takeover)
    else:
        if world is None:
            raise SimyardError("name a world, or fork a recorded episode with --from",
                               hint="e.g. simyard episode run sokoban --seed 3, or --from EPISODE_DIR --step K")
        world_options = options_for_world(parse_options(world_opt, "--world-opt"), world)
        result = run_interactive_episode(world, agent, options, task, suite, index, seed or 0, limits, out,
                                         world_options=world_options, takeover=takeover)
    raise typer.Exit(0 if result.status == "completed" else 1)


@episode_app.command("replay")
def episode_replay(
    episode_dir: Annotated[Path, typer.Argument(help="An episode directory inside a run (runs/.../episodes/ID), "
                                                     "or a run directory that holds one episode.")],
    gif: Annotated[Path | None, typer.Option("--gif", help="Write the episode's saved frames as an animated GIF "
                                             "instead of printing it.", show_default=False)] = None,
    sheet: Annotated[Path | None, typer.Option("--sheet", help="Write a contact sheet of the saved frames (a PNG, "
                                               "each tile labelled with its step).", show_default=False)] = None,
    view: Annotated[str | None, typer.Option(help="Which camera view's frames to use.",
                                             show_default="rgb, or the first view")] = None,
    fps: Annotated[float, typer.Option(help="GIF frames per second.", callback=_positive_fps)] = 2.0,
) -> None:
    """Print a recorded trajectory step by step, or turn its frames into a GIF or a contact sheet.

    Example: simyard episode replay runs/episode-sokoban-20261125-101500/episodes/sokoban-seed3__s3

    Example: simyard episode replay runs/episode-household-.../episodes/eb-alfred-base-00__s0 --gif ep.gif
    """
    if gif is None and sheet is None:
        replay_episode(episode_dir)
        return
    from simyard.cli.episode_pictures import episode_frames, write_gif, write_sheet

    shown, frames = episode_frames(_episode_dir(episode_dir), view)
    for path, write, what in ((gif, write_gif, "GIF"), (sheet, write_sheet, "contact sheet")):
        if path is not None:
            count, width, height = write(frames, path) if write is write_sheet else write_gif(frames, path, fps)
            console.print(f"{what}: {count} frames of view {shown}, {width}x{height} px, in {path}", markup=False,
                          highlight=False)


# -------------------------------------------------------------------------------------------------- printing


def _step_line(index: Any, action: Any, reward: float, valid: bool, tokens: int = 0, by: Any = None) -> Text:
    line = Text()
    line.append(f"step {index}", style="bold")
    line.append(f"  action={action!r}  reward={reward:+.2f}  ")
    line.append("valid" if valid else "invalid", style="" if valid else "red")
    if tokens:
        line.append(f"  tokens={tokens}")
    if by:  # who chose the step when it was not the agent: `human` (took over) or `replay` (a fork's replay)
        line.append(f"  by {by}", style="magenta")
    return line


def _print_reply(text: str) -> None:
    if text:
        console.print(Text("model: ", style="dim") + Text(text))


class LivePrinter:
    """A recorder that prints each step as it happens (the person watching an automatic agent sees the episode)."""

    def __init__(self, show_observations: bool) -> None:
        self.show_observations = show_observations

    def start(self, task: Task, seed: int | None, observation: Observation) -> None:
        console.rule(Text(f"{task.id}  (world {task.world}, seed {seed})"))
        if self.show_observations:  # a person playing is shown the task and observations by the human agent
            console.print(task.instruction, markup=False)
            console.print(observation.text, markup=False)

    def step(self, record: StepRecord) -> None:
        calls: list[ModelCall] = list(record.calls)
        tokens = sum((call.completion_tokens or 0) for call in calls)
        if self.show_observations:
            for call in calls:
                _print_reply(call.text)
        console.print(_step_line(record.index, record.action, record.reward, record.info.get("valid", True), tokens))
        if self.show_observations:
            console.print(record.observation.text, markup=False)

    def finish(self, result: EpisodeResult) -> None:
        line = Text("success", style="green") if result.success else Text("no success", style="red")
        line.append(f"  reason={result.reason}  steps={result.steps}  invalid={result.invalid_actions}  "
                    f"reward={result.reward:.2f}  progress={result.progress:.2f}")
        if result.status not in ("completed",):
            line.append(f"  status={result.status}")
        console.print(line)
        if result.error:
            console.print(Text("error: ", style="red") + Text(str(result.error)), soft_wrap=True)


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


# ------------------------------------------------------------------------------------------- choosing a task


def choose_task(world: str, task_id: str | None, suite: str | None, index: int | None, seed: int) -> Task:
    """The task named by the command line: by id, by position in a suite, or generated from the seed."""
    if index is not None and suite is None:
        raise SimyardError("--index needs --suite", hint="e.g. --suite ragen --index 3")
    if suite is not None:
        every = registry.load_suite(suite)
        if task_id is not None:
            found = registry.find_task(every, task_id, suite)
            if found.world != world:
                raise UnknownNameError(
                    f"task {task_id!r} of suite {suite!r} belongs to world {found.world!r}, not {world!r}",
                    hint=f"run: simyard episode run {found.world} --suite {suite} --task {task_id}")
            return found
        tasks = [task for task in every if task.world == world]
        if not tasks:
            worlds = ", ".join(sorted({task.world for task in every}))
            raise UnknownNameError(f"suite {suite!r} has no tasks for world {world!r}",
                                   hint=f"its worlds are: {worlds}; see simyard tasks list {suite}")
        position = index or 0
        if not 0 <= position < len(tasks):
            raise SimyardError(f"--index {position} is out of range", hint=f"suite {suite!r} has {len(tasks)} tasks "
                               f"of world {world!r}: use 0..{len(tasks) - 1}")
        return tasks[position]
    if task_id is not None:
        elsewhere: list[tuple[str, str]] = []
        for name in registry.names("suite"):
            for task in registry.load_suite(name):
                if task.id == task_id:
                    if task.world == world:
                        return task
                    elsewhere.append((name, task.world))
        if elsewhere:
            name, other = elsewhere[0]
            raise UnknownNameError(f"task {task_id!r} (suite {name!r}) belongs to world {other!r}, not {world!r}",
                                   hint=f"run: simyard episode run {other} --suite {name} --task {task_id}")
        raise UnknownNameError(f"no suite has a task {task_id!r} of world {world!r}", hint="name the --suite")
    try:
        return registry.world_class(world).sample_task(seed)
    except NotImplementedError as exc:
        raise SimyardError(str(exc), hint="pass --suite and --index or --task") from None


# ------------------------------------------------------------------------------------------------ running


def run_fork(from_episode: Path | None, step: int | None, world: str | None, agent_name: str,
             agent_options: dict[str, Any], choice: tuple[Any, ...], world_opt: list[str] | None, limits: Limits,
             out: Path | None, takeover: bool) -> EpisodeResult:
    """Fork a recorded episode at `step` (the `--from` form of `episode run`)."""
    from simyard.platform.fork_runner import default_fork_dir, prepare_fork
    from simyard.platform.rundir import RUN_FILE

    if from_episode is None or step is None:
        raise SimyardError("--from and --step go together", hint="e.g. --from runs/.../episodes/EPISODE --step 3")
    for flag, value in zip(("--task", "--suite", "--index", "--seed"), choice, strict=True):
        if value is not None:
            raise SimyardError(f"{flag} cannot be used with --from: the fork plays the recorded episode's task "
                               f"and seed", hint=f"drop {flag}")
    episode_dir = _episode_dir(from_episode)
    setup = prepare_fork(episode_dir, step, limits)
    point, limits = setup.point, setup.limits
    if world is not None and world != point.task.world:
        raise SimyardError(f"the episode {episode_dir.name} is of world {point.task.world!r}, not {world!r}",
                           hint="drop the world name when forking: the episode's own world is used")
    world_options = {**setup.world_options,
                     **options_for_world(parse_options(world_opt, "--world-opt"), point.task.world)}
    if out is None and (episode_dir.parent.parent / RUN_FILE).is_file():
        out = default_fork_dir(episode_dir, step, agent_name)
    return run_interactive_episode(point.task.world, agent_name, agent_options, None, None, None, point.seed or 0,
                                   limits, out, world_options=world_options, takeover=takeover, fork=point)


def run_interactive_episode(world: str, agent_name: str, agent_options: dict[str, Any], task_id: str | None,
                            suite: str | None, index: int | None, seed: int | None, limits: Limits,
                            out: Path | None, world_options: dict[str, Any] | None = None, takeover: bool = False,
                            fork: ForkPoint | None = None) -> EpisodeResult:
    """Run and record one episode, printing it as it goes (Ctrl-C: exit code 130, the partial episode kept).

    With `takeover`, the first Ctrl-C pauses the agent for the person instead (see `cli.takeover`); with `fork`,
    the episode replays a recorded one up to its step first (see `platform.fork`).
    """
    from simyard.platform.episode import run_episode_with
    from simyard.platform.rundir import single_episode_writer

    if fork is not None:
        task, seed = fork.task, fork.seed
    else:
        task = choose_task(world, task_id, suite, index, seed or 0)
    registry.world_class(world)  # an unknown world is reported before the agent (maybe a model client) is built
    agent = registry.make_agent(agent_name, **agent_options)
    taking_over: TakeoverAgent | None = None
    if takeover and agent_name != "human":
        from simyard.cli.takeover import takeover_agent

        agent = taking_over = takeover_agent(agent, print_fn=_plain)
    try:
        env = registry.make(world, **(world_options or {}))
    except TypeError as exc:
        agent.close()
        raise SimyardError(f"world {world!r} does not accept the options {sorted(world_options or {})}: {exc}",
                           hint=f"see `simyard env info {world}` for what it takes") from None
    except BaseException:
        agent.close()
        raise
    if fork is not None:
        env, agent = _forked(fork, env, agent, agent_name)
    printer = LivePrinter(show_observations=agent_name != "human")
    where: Path | None = None
    try:
        with single_episode_writer(out, task, agent_name, agent_options, seed,
                                   world_options=world_options) as writer:
            where = writer.episode_dir
            if fork is not None:
                writer.parent = fork.parent()
            with _sigint_pauses(taking_over):
                result = run_episode_with(env, agent, task, seed, limits, _Fanout(printer, writer))
            console.print(f"recorded in {writer.episode_dir}", markup=False)
            if taking_over is not None and taking_over.human_steps:
                console.print(f"steps you chose: {taking_over.human_steps} (marked by: human)", markup=False)
    except KeyboardInterrupt:
        err_console.print(f"\ninterrupted; what was played is recorded in {where}", markup=False)
        raise typer.Exit(130) from None
    finally:
        env.close()
        agent.close()
    if taking_over is not None and taking_over.interrupted:
        raise typer.Exit(130)
    return result


def _plain(text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _sigint_pauses(agent: TakeoverAgent | None) -> Any:
    """Ctrl-C pauses a model a person may take over; otherwise it interrupts as usual."""
    from contextlib import nullcontext

    from simyard.cli.takeover import pausing_on_sigint

    return nullcontext() if agent is None else pausing_on_sigint(agent)


def _forked(point: ForkPoint, env: Any, agent: Any, agent_name: str) -> tuple[Any, Any]:
    """The world checked against the parent's record, and an agent that replays it before `agent` plays."""
    from simyard.platform.fork import CheckedWorld, fork_agent

    checked = CheckedWorld(env, point)

    def handover() -> None:
        frames = f", {checked.checked_frames} frames" if checked.checked_frames else ""
        steps = f"steps 1..{point.step}" if point.step else "the reset"
        console.print(Text(f"fork: replayed {steps} of {point.episode_dir.name}: the world matched the record "
                           f"(observations, rewards, done flags{frames}); {agent_name} plays from step "
                           f"{point.step + 1}", style="cyan"))

    return checked, fork_agent(point, agent, on_handover=handover)


# ------------------------------------------------------------------------------------------------- replaying


def _episode_dir(path: Path) -> Path:
    """The episode directory `path` names: itself, or the single episode of a run directory."""
    from simyard.platform.trajectory import EPISODES_DIR

    if path.is_dir() and (path / EPISODES_DIR).is_dir():
        episodes = sorted(child for child in (path / EPISODES_DIR).iterdir() if child.is_dir())
        if len(episodes) == 1:
            return episodes[0]
        sample = ", ".join(str(child) for child in episodes[:3]) or "none recorded yet"
        raise RunDirError(f"{path} is a run directory with {len(episodes)} episodes",
                          hint=f"pass one episode directory, e.g. {sample}")
    return path


def replay_episode(path: Path) -> None:
    """Print a recorded trajectory: the first observation, then every step (with the model's replies)."""
    from simyard.platform.trajectory import read_trajectory

    episode_dir = _episode_dir(path)
    trajectory = read_trajectory(episode_dir)
    if not trajectory:
        raise RunDirError(f"{episode_dir}: this episode has no recorded steps (it was interrupted)",
                          hint="rerun it, or resume its run with `simyard bench run --resume RUN_DIR`")
    header, steps = trajectory[0], trajectory[1:]
    task = header.get("task") or {}
    console.rule(Text(f"{task.get('id', episode_dir.name)} (seed {header.get('seed')})"))
    parent = header.get("parent")
    if isinstance(parent, dict):
        console.print(Text(f"forked from {parent.get('episode')} at step {parent.get('step')}", style="cyan"))
    if task.get("instruction"):
        console.print(task["instruction"], markup=False)
    console.print((header.get("observation") or {}).get("text", ""), markup=False)
    for step in steps:
        for call in step.get("calls") or []:
            _print_reply(str((call or {}).get("text") or ""))
        info = step.get("info") or {}
        console.print(_step_line(step.get("index"), step.get("action"), float(step.get("reward") or 0),
                                 info.get("valid", True) is not False, by=step.get("by")))
        console.print((step.get("observation") or {}).get("text", ""), markup=False)
    if not steps:
        console.print("(no steps were recorded: the episode ended, or was interrupted, before its first step)",
                      markup=False)
