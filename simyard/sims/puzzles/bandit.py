"""RAGEN's two-armed bandit: judge from the arms' names which pays better on average, then pull once.

Replicates RAGEN's current code (`ragen/env/bandit`): each pair names a low-risk and a high-risk profession (12 pairs
for training, 8 held out for testing generalisation), the pair's order on screen is random per episode, and one
pull ends the episode. The high-risk arm pays 1.0 with probability 0.25, else 0. The low-risk arm pays a constant:
the paper's 0.15 here (RAGEN's code uses 0.1; set `low_reward` to get it). Either way the high-risk arm has the
higher expected reward (0.25), and success, like RAGEN's, means pulling the arm with the higher expected reward,
whatever this one pull happened to pay.

Task config: `pair` ([low-risk name, high-risk name]; without it one is drawn from `split`, "train" or "test"),
`seed` (with the reset seed: arm order and reward draw), `low_reward`, `high_reward`, `high_prob`.
"""

from __future__ import annotations

from typing import Any

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.platform.errors import TaskFileError
from simyard.sims.puzzles._common import Choices, config_float, config_int, instruction, world_rng

#: RAGEN's (low-risk, high-risk) arm names.
ARM_PAIRS = {
    "train": (
        ("Teacher", "Trader"),
        ("Nurse", "StartupFounder"),
        ("Librarian", "Investor"),
        ("Accountant", "StockBroker"),
        ("Engineer", "RealEstateAgent"),
        ("Pharmacist", "Musician"),
        ("Clerk", "Freelancer"),
        ("Technician", "Youtuber"),
        ("Planner", "Artist"),
        ("Postman", "Pilot"),
        ("Banker", "VentureCapitalist"),
        ("Gardener", "Cryptominer"),
    ),
    "test": (
        ("Receptionist", "Explorer"),
        ("Archivist", "Filmmaker"),
        ("Bookkeeper", "Consultant"),
        ("SocialWorker", "Photographer"),
        ("Mechanic", "GameDesigner"),
        ("Secretary", "Entrepreneur"),
        ("Cashier", "DataScientist"),
        ("CivilServant", "StartupAccelerator"),
    ),
}
LOW_REWARD, HIGH_REWARD, HIGH_PROB = 0.15, 1.0, 0.25
RULES = (
    "You are playing a bandit game. Goal: maximize your reward by choosing which arm to pull.\n"
    "Game rules:\n"
    "1. There are 2 arms, named {first} and {second}.\n"
    "2. Each arm has its own reward distribution, related to its name.\n"
    "3. Analyze the symbolic meaning of each arm's name to guess how its reward distribution might behave.\n"
    "4. Based on the symbolic meaning of their names, which arm do you think is more likely to give higher rewards "
    "on average? Choose between {first} and {second}."
)


def bandit_task(task_id: str, pair: tuple[str, str], seed: int, subset: str = "base") -> Task:
    """A bandit task with a fixed (low-risk, high-risk) pair; the instruction lists the names alphabetically."""
    first, second = sorted(pair)
    return Task(
        id=task_id,
        world="bandit",
        instruction=instruction(RULES.format(first=first, second=second), None, (first, second), 1),
        subset=subset,
        config={"pair": list(pair), "seed": seed},
        goal={"pull": "arm with the higher expected reward"},
        max_steps=1,
        max_invalid=None,
    )


class BanditEnv(Env):
    """Two named arms with hidden payouts; one pull per episode."""

    name = "bandit"

    def __init__(self) -> None:
        self._choices: Choices | None = None

    @classmethod
    def sample_task(cls, seed: int) -> Task:
        """A training pair, chosen by `seed`, as in RAGEN's training split."""
        pairs = ARM_PAIRS["train"]
        return bandit_task(f"bandit-train-{seed:03d}", pairs[seed % len(pairs)], seed)

    def action_spec(self) -> ActionSpec:
        assert self._choices is not None, "reset the world first: the arm names change per episode"
        return self._choices.spec

    def reset(self, task: Task, seed: int | None = None) -> Observation:
        config = task.config
        rng = world_rng(config_int(config, "seed", 0, -(1 << 63)), seed or 0)
        pair = config.get("pair")
        if pair is None:
            split = config.get("split", "train")
            if split not in ARM_PAIRS:
                raise TaskFileError(f"bandit split {split!r} is unknown", hint=f"use one of {sorted(ARM_PAIRS)}")
            pair = ARM_PAIRS[split][int(rng.integers(len(ARM_PAIRS[split])))]
        if not (
            isinstance(pair, (list, tuple))
            and len(pair) == 2
            and all(isinstance(n, str) and n for n in pair)
            and pair[0] != pair[1]
        ):
            raise TaskFileError(
                f"bandit pair must be two different names, got {pair!r}",
                hint='e.g. ["Teacher", "Trader"] (low-risk first)',
            )
        self._low, self._high = pair
        self._low_reward = config_float(config, "low_reward", LOW_REWARD, -1e6, 1e6)
        self._high_reward = config_float(config, "high_reward", HIGH_REWARD, -1e6, 1e6)
        self._high_prob = config_float(config, "high_prob", HIGH_PROB, 0.0, 1.0)
        arms = (self._low, self._high) if rng.random() < 0.5 else (self._high, self._low)
        self._choices = Choices(arms, help=f"Pull one arm: {arms[0]} or {arms[1]}.")
        self._rng = rng
        self._pulled: str | None = None
        self._reward = 0.0
        self._ended = False
        return self._observation("Choose an arm to pull.")

    def _expected(self, arm: str) -> float:
        return self._low_reward if arm == self._low else self._high_reward * self._high_prob

    def _best(self) -> str:
        return self._high if self._expected(self._high) > self._expected(self._low) else self._low

    def step(self, action: Action) -> StepResult:
        """Pull an arm. Any answer ends the episode, as in RAGEN; one naming no arm pulls nothing and earns 0."""
        assert self._choices is not None, "reset the world before stepping it"
        index = self._choices.parse(action)
        if self._ended or index is None:
            feedback = "the episode is over; reset to play again" if self._ended else self._choices.unknown(action)
            self._ended = True
            return self._ending(feedback, 0.0, valid=False)
        arm = self._choices.names[index]
        if arm == self._low:
            reward = self._low_reward
        else:
            reward = self._high_reward if self._rng.random() < self._high_prob else 0.0
        self._pulled, self._reward, self._ended = arm, reward, True
        return self._ending(f"{arm}: {reward:g} points", reward, valid=True)  # RAGEN's answer to a pull

    def _ending(self, feedback: str, reward: float, valid: bool) -> StepResult:
        """The one step of an episode: every answer ends it; only a named arm is valid (and effective)."""
        success = self._succeeded()
        info = {"valid": valid, "feedback": feedback, "success": success, "progress": float(success),
                "action_is_effective": valid}
        return StepResult(self._observation(feedback), reward, True, False, info)

    def _succeeded(self) -> bool:
        # Judged on expectations, not on this pull's luck: both arms count when they are worth the same.
        return self._pulled is not None and self._expected(self._pulled) >= self._expected(self._best())

    def _observation(self, feedback: str) -> Observation:
        assert self._choices is not None
        first, second = self._choices.names
        return Observation(f"{feedback}\nArms: {first}, {second}", {}, {"valid_actions": [first, second]})

    def state(self) -> dict[str, Any]:
        if self._choices is None:
            return {}
        return {
            "arms": list(self._choices.names),
            "low_risk": self._low,
            "high_risk": self._high,
            "pulled": self._pulled,
            "reward": self._reward,
        }

    def oracle(self) -> Action:
        """The arm with the higher expected reward (the high-risk one, with RAGEN's numbers)."""
        return self._best()
