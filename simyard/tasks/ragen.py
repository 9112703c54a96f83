"""The `ragen` suite: RAGEN's four puzzle worlds, each at RAGEN's default setting (`base`) and in harder or held-out
subsets.

`base` follows RAGEN's shipped configs, which differ from the paper for FrozenLake: the paper's lake (Gymnasium's
default) is slippery, a move going as chosen only 1/3 of the time, while RAGEN's current FrozenLake config is
deterministic (`success_rate: 1`), as is `base` here. `slippery` uses RAGEN's other current setting (success rate
0.8); the paper's lake is `{"slip": 0.6667}` in a task file.

Tasks hold generation parameters only (room size, seeds); rooms, lakes and number sets are generated when a task
is reset, so the suite builds in milliseconds and a task id always means the same instance.

| world      | subset          | tasks | setting                                                     | max_steps |
|------------|-----------------|-------|-------------------------------------------------------------|-----------|
| sokoban    | base            | 100   | 6x6 room, 1 box (RAGEN's SimpleSokoban, 10 actions)         | 10        |
| sokoban    | two_boxes       | 100   | 8x8 room, 2 boxes (RAGEN's LargerSokoban size)              | 20        |
| sokoban    | three_boxes     | 100   | 10x10 room, 3 boxes (gym-sokoban's default size)            | 30        |
| frozenlake | base            | 100   | 4x4, 80% frozen, deterministic (RAGEN's code, not the paper) | 10        |
| frozenlake | slippery        | 100   | 4x4, 80% frozen, slip 0.2 (RAGEN's current success rate 0.8) | 10        |
| bandit     | base            | 100   | RAGEN's 12 training name pairs                              | 1         |
| bandit     | held_out_names  | 100   | RAGEN's 8 test name pairs                                   | 1         |
| countdown  | base            | 100   | 3 numbers, reachable with + and - (RAGEN's filter)          | 1         |
| countdown  | four_numbers    | 100   | 4 numbers, reachable with + and - (RAGEN's filter)          | 1         |
| countdown  | all_ops         | 100   | 4 numbers that need * or / (not in RAGEN)                   | 1         |

The larger Sokoban rooms get more steps than RAGEN's 10 so that every room, generated to be solvable within its
budget, is: the oracle solves all of them.
"""

from __future__ import annotations

from simyard.platform.api import Task
from simyard.sims.puzzles.bandit import ARM_PAIRS, bandit_task
from simyard.sims.puzzles.countdown import countdown_task
from simyard.sims.puzzles.frozenlake import frozenlake_task
from simyard.sims.puzzles.sokoban import sokoban_task

#: Tasks per subset.
PER_SUBSET = 100


def ragen_suite() -> list[Task]:
    """Every task of the suite, in a stable order."""
    return [*_sokoban(), *_frozenlake(), *_bandit(), *_countdown()]


def _sokoban() -> list[Task]:
    settings = (((6, 6), 1, 10, "base"), ((8, 8), 2, 20, "two_boxes"), ((10, 10), 3, 30, "three_boxes"))
    return [
        sokoban_task(f"sokoban-{rows}x{cols}-{boxes}b-{index:03d}", (rows, cols), boxes, index, max_steps, subset)
        for (rows, cols), boxes, max_steps, subset in settings
        for index in range(PER_SUBSET)
    ]


def _frozenlake() -> list[Task]:
    settings = ((0.0, "", "base"), (0.2, "-slip", "slippery"))
    return [
        frozenlake_task(f"frozenlake-4x4{tag}-{index:03d}", 4, 0.8, slip, index, 10, subset)
        for slip, tag, subset in settings
        for index in range(PER_SUBSET)
    ]


def _bandit() -> list[Task]:
    settings = (("train", "base"), ("test", "held_out_names"))
    return [
        bandit_task(f"bandit-{split}-{index:03d}", ARM_PAIRS[split][index % len(ARM_PAIRS[split])], index, subset)
        for split, subset in settings
        for index in range(PER_SUBSET)
    ]


def _countdown() -> list[Task]:
    settings = (
        (3, "", "base", "plus_minus"),
        (4, "", "four_numbers", "plus_minus"),
        (4, "-allops", "all_ops", "needs_mul_div"),
    )
    return [
        countdown_task(f"countdown-{count}n{tag}-{index:03d}", count, index, subset, filter)
        for count, tag, subset, filter in settings
        for index in range(PER_SUBSET)
    ]
