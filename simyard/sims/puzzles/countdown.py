"""Countdown as RAGEN plays it: one arithmetic expression that uses each given number once and hits the target.

Rewards are RAGEN's: 1.0 for a correct expression, 0.1 for one that uses exactly the given numbers but misses the
target, 0 otherwise (an invalid answer, whose feedback says why); one answer ends the episode. Unlike RAGEN, which
runs `eval` on the answer and compares floats, answers are parsed with `ast` (only + - * /, parentheses and whole
numbers) and evaluated exactly with fractions, so `(8 / 3) * 3` is 8 and nothing but arithmetic ever runs.

RAGEN draws instances from the Countdown-Tasks-3to4 dataset; here they are built from a seed, with no download: a
random expression over random numbers whose intermediate results are positive whole numbers, its value the target.
The oracle does not reuse that expression: it searches every way of combining the numbers, so it solves any
instance given in a task, too.

Task config: `nums` and `target` (an instance given outright), or `count` (how many numbers, default 4) and `seed`
(the instance; defaults to the reset seed).
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.errors import TaskFileError
from simyard.sims.puzzles._common import config_int, instruction, world_rng

RULES = (
    "You are solving the Countdown puzzle. Use the numbers in the list to write an arithmetic expression that "
    "equals the target. Use each number exactly once, with + - * / and parentheses, and answer with the expression "
    "only, for example (3 + 5) * 2."
)
CORRECT_REWARD, WRONG_VALUE_REWARD = 1.0, 0.1
#: Longest answer read; anything longer is rejected before parsing.
MAX_ANSWER_CHARS = 300
#: Range of the numbers and of the target in generated instances (the Countdown-Tasks-3to4 ranges).
NUMBER_RANGE, TARGET_RANGE = (1, 99), (1, 100)
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_FORBIDDEN = {
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitXor: "^",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
_SPEC = ActionSpec(
    kind="text",
    help="An arithmetic expression using each given number exactly once, with + - * / and parentheses, "
    "e.g. (3 + 5) * 2.",
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How an answer fares: whether it is a legal expression over the numbers, its value, reward and feedback."""

    valid: bool
    reward: float
    feedback: str
    value: Fraction | None = None


def countdown_task(task_id: str, count: int, seed: int, subset: str = "base") -> Task:
    """A Countdown task with `count` numbers; the instance is built from `seed` at reset."""
    return Task(
        id=task_id,
        world="countdown",
        instruction=instruction(RULES, None, ["an arithmetic expression over the numbers"], 1),
        subset=subset,
        config={"count": count, "seed": seed},
        goal={"expression_equals": "target"},
        max_steps=1,
        max_invalid=None,
    )


def check(answer: str, nums: list[int], target: int) -> Verdict:
    """Judge an answer exactly; never raises and never evaluates anything but + - * / over whole numbers."""
    text = answer.strip()
    if not text:
        return Verdict(False, 0.0, "the answer is empty; write an expression such as (3 + 5) * 2")
    if len(text) > MAX_ANSWER_CHARS:
        return Verdict(False, 0.0, f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    if "=" in text:
        return Verdict(False, 0.0, "write the expression only, without '=' or the target")
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Verdict(False, 0.0, f"{text!r} is not an arithmetic expression; use numbers, + - * / and parentheses")
    try:
        used = _numbers(tree, text)
    except _Rejected as exc:
        return Verdict(False, 0.0, f"{exc}; only + - * /, parentheses and the given numbers are allowed")
    problems = _misuse(Counter(used), Counter(nums))
    if problems:
        return Verdict(False, 0.0, f"the expression {'; '.join(problems)}; use each of {nums} exactly once")
    try:
        value = _evaluate(tree)
    except ZeroDivisionError:
        return Verdict(False, 0.0, "the expression divides by zero")
    if value == target:
        return Verdict(True, CORRECT_REWARD, f"Correct: {text} = {target}.", value)
    return Verdict(True, WRONG_VALUE_REWARD, f"Wrong: {text} = {value}, not {target}.", value)


class _Rejected(ValueError):
    """A part of the answer that is not plain arithmetic over whole numbers."""


def _numbers(node: ast.expr, text: str) -> list[int]:
    """The whole numbers written in the expression, after checking that nothing else is in it."""
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _OPERATORS:
            operator = _FORBIDDEN.get(type(node.op), "this operator")
            raise _Rejected(f"{operator} in {ast.unparse(node)!r} is not allowed")
        return _numbers(node.left, text) + _numbers(node.right, text)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        written = ast.get_source_segment(text, node) or ""
        if not written.isdecimal():  # Python also reads 0x10 and 1_0 as whole numbers; an answer may not
            raise _Rejected(f"{written!r} is not a number written in decimal digits")
        return [node.value]
    if isinstance(node, ast.UnaryOp):
        raise _Rejected(f"the sign in {ast.unparse(node)!r} is not allowed")
    raise _Rejected(f"{ast.unparse(node)!r} is not allowed")


def _evaluate(node: ast.expr) -> Fraction:
    if isinstance(node, ast.Constant):
        return Fraction(node.value)
    assert isinstance(node, ast.BinOp)  # _numbers let nothing else through
    left, right = _evaluate(node.left), _evaluate(node.right)
    operator = type(node.op)
    if operator is ast.Add:
        return left + right
    if operator is ast.Sub:
        return left - right
    if operator is ast.Mult:
        return left * right
    return left / right


def _misuse(used: Counter[int], given: Counter[int]) -> list[str]:
    """What is wrong with the numbers an expression uses, in words (empty when each is used exactly once)."""
    problems = []
    for number in sorted(used.keys() | given.keys()):
        have, want = used[number], given[number]
        if want == 0:
            problems.append(f"uses {number}, which is not in the list")
        elif have > want:
            problems.append(f"uses {number} {_times(have)} but it is given {_times(want)}")
        elif have < want:
            problems.append(
                f"does not use {number}"
                if have == 0
                else f"uses {number} {_times(have)} but it is given {_times(want)}"
            )
    return problems


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def solve(nums: list[int], target: int) -> str | None:
    """An expression over `nums`, each used once, equal to `target`; None when there is none.

    Combines two of the remaining values in every way (+, both -, *, both /) until one value is left, skipping
    multisets of values already known to fail.
    """
    goal = Fraction(target)
    failed: set[tuple[Fraction, ...]] = set()

    def search(items: list[tuple[Fraction, str]]) -> str | None:
        if len(items) == 1:
            return items[0][1] if items[0][0] == goal else None
        key = tuple(sorted(value for value, _ in items))
        if key in failed:
            return None
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                (a, x), (b, y) = items[i], items[j]
                rest = items[:i] + items[i + 1 : j] + items[j + 1 :]
                options = [
                    (a + b, f"({x} + {y})"),
                    (a - b, f"({x} - {y})"),
                    (b - a, f"({y} - {x})"),
                    (a * b, f"({x} * {y})"),
                ]
                if b:
                    options.append((a / b, f"({x} / {y})"))
                if a:
                    options.append((b / a, f"({y} / {x})"))
                for combined in options:
                    found = search([*rest, combined])
                    if found is not None:
                        return found
        failed.add(key)
        return None

    found = search([(Fraction(n), str(n)) for n in nums])
    return found[1:-1] if found is not None and len(nums) > 1 else found


def generate(count: int, rng: np.random.Generator) -> tuple[list[int], int]:
    """Random numbers and a target reachable from them (built from a random expression, see the module doc)."""
    while True:
        nums = [int(n) for n in rng.integers(NUMBER_RANGE[0], NUMBER_RANGE[1] + 1, size=count)]
        values = list(nums)
        while len(values) > 1:
            i, j = (int(k) for k in rng.choice(len(values), size=2, replace=False))
            a, b = values[i], values[j]
            candidates = [a + b, a * b] + [a - b] * (a > b) + [a // b] * (a % b == 0)
            combined = candidates[int(rng.integers(len(candidates)))]
            values = [v for k, v in enumerate(values) if k not in (i, j)] + [combined]
        if TARGET_RANGE[0] <= values[0] <= TARGET_RANGE[1]:
            return nums, values[0]


class CountdownEnv(Env):
    """Countdown: one expression per episode, judged exactly."""

    name = "countdown"

    def __init__(self) -> None:
        self._nums: list[int] = []
        self._target = 0

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """Three numbers for even seeds, four for odd ones, as in RAGEN's 3-to-4 number instances (and the suite)."""
        count = 3 + seed % 2
        return countdown_task(f"countdown-{count}n-{seed:03d}", count, seed, "base" if count == 3 else "four_numbers")

    def action_spec(self) -> ActionSpec:
        return _SPEC

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        config = task.config
        if "nums" in config or "target" in config:
            nums, target = config.get("nums"), config.get("target")
            if not (
                isinstance(nums, list) and nums and all(type(n) is int and n >= 0 for n in nums) and type(target) is int
            ):
                raise TaskFileError(
                    f"countdown task config needs 'nums' (whole numbers) and 'target', got "
                    f"nums={nums!r} target={target!r}",
                    hint='e.g. {"nums": [3, 5, 2], "target": 4}',
                )
            self._nums, self._target = list(nums), target
        else:
            count = config_int(config, "count", 4, 2, 6)
            self._nums, self._target = generate(count, world_rng(config_int(config, "seed", seed or 0, -(1 << 63))))
        self._answer: str | None = None
        self._verdict: Verdict | None = None
        self._ended = False
        return self._observation("Write one expression that uses each number exactly once.")

    def step(self, action: Action) -> StepResult:
        """Judge the answer. Any answer ends the episode, as in RAGEN; a malformed one is invalid and earns 0."""
        if self._ended:
            verdict = Verdict(False, 0.0, "the puzzle was already answered; reset for a new one")
        else:
            if isinstance(action, str):
                verdict = check(action, self._nums, self._target)
            else:
                verdict = Verdict(
                    False, 0.0, f"an answer is an expression written as text, got {type(action).__name__}"
                )
            self._answer, self._verdict, self._ended = action if isinstance(action, str) else None, verdict, True
        solved = self._verdict is not None and self._verdict.reward == CORRECT_REWARD
        info = {
            "valid": verdict.valid,
            "feedback": verdict.feedback,
            "success": solved,
            "progress": float(solved),
            "action_is_effective": verdict.valid,
        }
        return StepResult(self._observation(verdict.feedback), verdict.reward, True, False, info)

    def _observation(self, feedback: str) -> Observation:
        return Observation(f"{feedback}\nTarget: {self._target}, nums: {self._nums}")

    def state(self) -> dict[str, Any]:
        verdict = self._verdict
        return {
            "target": self._target,
            "nums": list(self._nums),
            "answer": self._answer,
            "valid": verdict.valid if verdict else None,
            "reward": verdict.reward if verdict else None,
            "solved": bool(verdict and verdict.reward == CORRECT_REWARD),
        }

    def oracle(self) -> Action:
        """A correct expression found by search; without one, the numbers summed (the episode then fails)."""
        found = solve(self._nums, self._target)
        return found if found is not None else " + ".join(map(str, self._nums))

    def sample_action(self, rng: np.random.Generator) -> Action:
        """A random expression over the numbers, each once: right only by luck, as a random agent should be."""
        items = [str(n) for n in self._nums]
        while len(items) > 1:
            i, j = (int(k) for k in rng.choice(len(items), size=2, replace=False))
            operator = "+-*/"[int(rng.integers(4))]
            combined = f"({items[i]} {operator} {items[j]})"
            items = [item for k, item in enumerate(items) if k not in (i, j)] + [combined]
        return items[0][1:-1] if len(self._nums) > 1 else items[0]
