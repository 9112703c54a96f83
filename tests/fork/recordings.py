"""Recorded episodes with forks and human steps, made by the real code paths, for the viewer's, export's and
rescore's cross-checks.

`takeover_episode` runs the real `TakeoverAgent` around the oracle, paused from the start, with the person's lines
given as a script instead of typed (the pty test in test_takeover.py covers the typing): the person makes the first
move, then hands control back with `:c`. `forked_run` forks a recorded puzzle episode with `fork_runner.run_fork`.
"""

from __future__ import annotations

import io
from pathlib import Path

from simyard.platform.episode import Limits, run_episode_with
from simyard.platform.registry import load_suite, make, make_agent
from simyard.platform.rundir import single_episode_writer


def sokoban_task(render: bool = True):
    task = next(task for task in load_suite("ragen") if task.world == "sokoban")
    return task.model_copy(update={"config": {**task.config, "render": render}})


def takeover_episode(out: Path, person_lines: tuple[str, ...] = ("2", ":c")) -> Path:
    """A run directory of one Sokoban episode whose first step a person chose (`by: human`); its episode dir."""
    from simyard.cli.takeover import TakeoverAgent

    lines = iter(person_lines)
    agent = TakeoverAgent(make_agent("oracle"), print_fn=lambda text: None, input_fn=lambda prompt: next(lines),
                          stdin=io.StringIO())
    agent.pause_requested = True
    task = sokoban_task()
    env = make("sokoban")
    try:
        with single_episode_writer(out, task, "oracle", {}, 3) as writer:
            run_episode_with(env, agent, task, 3, Limits(), writer)
            return writer.episode_dir
    finally:
        env.close()
        agent.close()


def forked_run(parent_run: Path, step: int = 2, agent: str = "random"):
    """Fork the first episode of `parent_run` at `step` into `<run>/forks/` (the viewer's place); its outcome."""
    from simyard.platform.fork_runner import prepare_fork, run_fork

    episode = sorted((parent_run / "episodes").iterdir())[0]
    return run_fork(prepare_fork(episode, step), agent)
