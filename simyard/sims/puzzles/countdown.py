"""Countdown as RAGEN plays it: one arithmetic expression that uses each given number once and hits the target.

Scoring is RAGEN's (`ragen/env/countdown/env.py`): an answer whose written numbers (every run of digits) are not
exactly the given ones earns 0; one that has them earns 1.0 when it evaluates to the target (within RAGEN's 1e-5)
and 0.1 otherwise, including when it divides by zero or is nested too deeply for Python to read (RAGEN's `eval`
fails on both). There is no length limit: a long but correct answer earns 1.0, as in RAGEN. A leading or inner sign
(`- 34 + 90 - 6`, RAGEN's own answer form) is fine. One answer ends the episode.

Where this differs from RAGEN, on purpose: answers are parsed with `ast` and evaluated exactly with fractions,
never `eval`, and only whole numbers written in decimal digits, + - * /, signs and parentheses are arithmetic here.
Anything else (`**`, `//`, `%`, decimals, names, calls, an `=`, a syntax error) is an invalid answer earning 0,
where RAGEN gives 0.1 to any text holding exactly the given numbers that its `eval` cannot read, and evaluates `**`.

RAGEN draws instances from the Countdown-Tasks-3to4 dataset, keeping only those its `has_solution` accepts (reachable
with + and - alone). Here they are built from a seed, with no download: a random expression over random numbers
whose intermediate results are positive whole numbers, its value the target, kept when it passes the same filter
(`filter: "plus_minus"`, the default) or, for instances that need * or /, when it does not (`"needs_mul_div"`). The
oracle does not reuse that expression: it searches every way of combining the numbers, so it solves any instance
given in a task too, within a node budget.

Task config (`CountdownConfig`): `nums` and `target` (an instance given outright), or `count` (how many numbers,
default 4), `seed` (the instance; defaults to the reset seed) and `filter`.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.sims.puzzles._common import OracleGaveUp, instruction, read_config, rescore_by_replay, world_rng

RULES = (
    "You are solving the Countdown puzzle. Use the numbers in the list to write an arithmetic expression that "
    "equals the target. Use each number exactly once, with + - * / and parentheses, and answer with the expression "
    "only, for example (3 + 5) * 2."
)
CORRECT_REWARD, WRONG_VALUE_REWARD = 1.0, 0.1
#: RAGEN compares its float result with the target within this tolerance.
TOLERANCE = Fraction(1, 100_000)
#: Range of the numbers and of the target in generated instances (the Countdown-Tasks-3to4 ranges).
NUMBER_RANGE, TARGET_RANGE = (1, 99), (1, 100)
#: Most numbers a task may give (the observation lists them all; the oracle's search has a budget anyway).
MAX_NUMS = 64
#: Search nodes the solver may visit before giving up (about 1 s here): a full search over 5 numbers takes about
#: 0.1 s; 6 or more numbers without a solution could take minutes.
SOLVER_NODE_BUDGET = 150_000
#: Longest piece of an answer quoted back in feedback.
_QUOTE_CHARS = 80
_DIGITS = re.compile(r"\d+")
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


class CountdownConfig(BaseModel):
    """What a Countdown task's `config` may hold: an instance given outright, or how to generate one."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    nums: list[int] | None = Field(
        None, min_length=1, max_length=MAX_NUMS, description=f"1 to {MAX_NUMS} whole numbers >= 0, with 'target'"
    )
    target: int | None = Field(None, description="a whole number, with 'nums'")
    count: int = Field(4, ge=2, le=6, description="how many numbers to generate, 2 to 6")
    seed: int | None = Field(None, ge=-(1 << 63), description="an integer: the generated instance")
    filter: Literal["plus_minus", "needs_mul_div"] = Field(
        "plus_minus",
        description="'plus_minus' (reachable with + and - alone, RAGEN's filter) or 'needs_mul_div'",
    )

    @model_validator(mode="after")
    def _given_together(self) -> CountdownConfig:
        if (self.nums is None) != (self.target is None):
            raise ValueError("'nums' and 'target' go together: give both or neither")
        if self.nums is not None and any(n < 0 for n in self.nums):
            raise ValueError("'nums' must be whole numbers >= 0")
        return self


@dataclass(frozen=True, slots=True)
class Verdict:
    """How an answer fares: whether it is a legal expression over the numbers, its value, reward and feedback."""

    valid: bool
    reward: float
    feedback: str
    value: Fraction | None = None


def countdown_task(task_id: str, count: int, seed: int, subset: str = "base", filter: str = "plus_minus") -> Task:
    """A Countdown task with `count` numbers; the instance is built from `seed` at reset.

    `filter` is the config's: "plus_minus" (RAGEN's instances, the default and left out of the config) or
    "needs_mul_div".
    """
    config: dict[str, Any] = {"count": count, "seed": seed}
    if filter != "plus_minus":
        config["filter"] = filter
    return Task(
        id=task_id,
        world="countdown",
        instruction=instruction(RULES, None, ["an arithmetic expression over the numbers"], 1),
        subset=subset,
        config=config,
        goal={"expression_equals": "target"},
        max_steps=1,
        max_invalid=None,
    )


def _quote(text: str) -> str:
    return repr(text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 3] + "...")


def _written_numbers(text: str) -> list[int] | None:
    """RAGEN's reading of an answer's numbers: every run of digits (None when one is too long to be a number)."""
    try:
        return [int(digits) for digits in _DIGITS.findall(text)]
    except ValueError:  # Python refuses to convert runs of more than 4300 digits; no task gives such a number
        return None


def check(answer: str, nums: list[int], target: int) -> Verdict:
    """Judge an answer as RAGEN scores it (see the module doc); never raises and never runs anything but arithmetic."""
    text = answer.strip()
    if not text:
        return Verdict(False, 0.0, "the answer is empty; write an expression such as (3 + 5) * 2")
    tree, problem, too_deep = _parse(text)
    written = _written_numbers(text)
    if written is None or Counter(written) != Counter(nums):  # RAGEN's check_format: 0 when the numbers differ
        if problem is None or too_deep:
            misuse = _misuse(Counter(written or []), Counter(nums))
            problem = f"the expression {'; '.join(misuse)}; use each of {nums} exactly once"
        return Verdict(False, 0.0, problem)
    if too_deep:  # RAGEN's eval cannot read it either, and scores the right numbers 0.1
        return Verdict(True, WRONG_VALUE_REWARD, "The expression is nested too deeply to evaluate, so it has no value.")
    if tree is None:
        return Verdict(False, 0.0, problem or "not an expression")
    try:
        value = _evaluate(tree)
    except ZeroDivisionError:  # RAGEN's eval raises too, and the right numbers score 0.1
        return Verdict(True, WRONG_VALUE_REWARD, "The expression divides by zero, so it has no value.")
    if abs(value - target) < TOLERANCE:
        return Verdict(True, CORRECT_REWARD, f"Correct: {_quote(text)[1:-1]} = {target}.", value)
    return Verdict(True, WRONG_VALUE_REWARD, f"Wrong: {_quote(text)[1:-1]} = {value}, not {target}.", value)


def _parse(text: str) -> tuple[ast.expr | None, str | None, bool]:
    """The expression tree, or why there is none; the flag says it was only too deeply nested to read."""
    if "=" in text:
        return None, "write the expression only, without '=' or the target", False
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        if "too many nested parentheses" in str(exc.msg) or "too complex" in str(exc.msg):
            return None, "the expression is nested too deeply to evaluate", True
        return None, f"{_quote(text)} is not an arithmetic expression; use numbers, + - * / and parentheses", False
    except (RecursionError, MemoryError):
        return None, "the expression is nested too deeply to evaluate", True
    except ValueError:  # a NUL character
        return None, f"{_quote(text)} is not an arithmetic expression; use numbers, + - * / and parentheses", False
    try:
        _numbers(tree, text)
    except _Rejected as exc:
        return None, f"{exc}; only + - * /, signs, parentheses and the given numbers are allowed", False
    return tree, None, False


class _Rejected(ValueError):
    """A part of the answer that is not plain arithmetic over whole numbers."""


def _numbers(node: ast.expr, text: str) -> list[int]:
    """The whole numbers written in the expression, after checking that nothing else is in it."""
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand  # a loop, not recursion: a long run of signs is still arithmetic, as in RAGEN
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _OPERATORS:
            operator = _FORBIDDEN.get(type(node.op), "this operator")
            raise _Rejected(f"{operator} in {_quote(ast.unparse(node))} is not allowed")
        return _numbers(node.left, text) + _numbers(node.right, text)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        written = ast.get_source_segment(text, node) or ""
        if not written.isdecimal():  # Python also reads 0x10 and 1_0 as whole numbers; an answer may not
            raise _Rejected(f"{written!r} is not a number written in decimal digits")
        return [node.value]
    raise _Rejected(f"{_quote(ast.unparse(node))} is not allowed")


def _evaluate(node: ast.expr) -> Fraction:
    sign = 1
    while isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            sign = -sign
        node = node.operand
    if isinstance(node, ast.Constant):
        return sign * Fraction(node.value)
    assert isinstance(node, ast.BinOp)  # _numbers let nothing else through
    left, right = _evaluate(node.left), _evaluate(node.right)
    operator = type(node.op)
    if operator is ast.Add:
        value = left + right
    elif operator is ast.Sub:
        value = left - right
    elif operator is ast.Mult:
        value = left * right
    else:
        value = left / right
    return sign * value


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


def solve(nums: list[int], target: int, node_budget: int = SOLVER_NODE_BUDGET) -> str | None:
    """An expression over `nums`, each used once, equal to `target`; None when there is none.

    Combines two of the remaining values in every way (+, both -, *, both /) until one value is left, skipping
    multisets of values already known to fail.

    Raises:
        OracleGaveUp: The search visited `node_budget` nodes without settling the question (many numbers).
    """
    goal = Fraction(target)
    failed: set[tuple[Fraction, ...]] = set()
    visited = 0

    def search(items: list[tuple[Fraction, str]]) -> str | None:
        nonlocal visited
        visited += 1
        if visited > node_budget:
            raise OracleGaveUp(
                f"the countdown solver gave up after {node_budget:,} search nodes on {len(nums)} numbers "
                "without finding or ruling out a solution",
                hint="give fewer numbers (RAGEN's instances have 3 or 4)",
            )
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


def plus_minus_solvable(nums: list[int], target: int) -> bool:
    """RAGEN's `has_solution`: whether `target` is a sum of the numbers, each with a + or - sign."""
    return any(
        sum(sign * n for sign, n in zip(signs, nums, strict=True)) == target
        for signs in itertools.product((1, -1), repeat=len(nums))
    )


def generate(count: int, rng: np.random.Generator, filter: str = "plus_minus") -> tuple[list[int], int]:
    """Random numbers and a target reachable from them, passing `filter` (see the module doc)."""
    want_plus_minus = filter == "plus_minus"
    while True:
        nums = [int(n) for n in rng.integers(NUMBER_RANGE[0], NUMBER_RANGE[1] + 1, size=count)]
        values = list(nums)
        while len(values) > 1:
            i, j = (int(k) for k in rng.choice(len(values), size=2, replace=False))
            a, b = values[i], values[j]
            candidates = [a + b, a * b] + [a - b] * (a > b) + [a // b] * (a % b == 0)
            combined = candidates[int(rng.integers(len(candidates)))]
            values = [v for k, v in enumerate(values) if k not in (i, j)] + [combined]
        target = values[0]
        if TARGET_RANGE[0] <= target <= TARGET_RANGE[1] and plus_minus_solvable(nums, target) == want_plus_minus:
            return nums, target


class CountdownEnv(Env):
    """Countdown: one expression per episode, judged exactly."""

    name = "countdown"
    config_model = CountdownConfig
    rescore = classmethod(rescore_by_replay)

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
        config = read_config(CountdownConfig, task)
        if config.nums is not None and config.target is not None:
            self._nums, self._target = list(config.nums), config.target
        else:
            rng = world_rng(config.seed if config.seed is not None else seed or 0)
            self._nums, self._target = generate(config.count, rng, config.filter)
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
        """A correct expression found by search; without one, the numbers summed (the episode then fails).

        Raises:
            OracleGaveUp: The search ran out of its node budget (`SOLVER_NODE_BUDGET`, many numbers) before finding
                or ruling out a solution. The oracle does not guess: the runner records the episode as an error
                whose message says the solver gave up, so it is never mistaken for an unsolvable instance.
        """
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
