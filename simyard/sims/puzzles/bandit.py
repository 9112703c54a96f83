"""RAGEN's two-armed bandit: judge from the arms' names which pays better on average, then pull once.

Replicates RAGEN's current code (`ragen/env/bandit`): each pair names a low-risk and a high-risk profession (12 pairs
for training, 8 held out for testing generalisation), the pair's order on screen is random per episode, and one
pull ends the episode. The high-risk arm pays 1.0 with probability 0.25, else 0. The low-risk arm pays a constant:
the paper's 0.15 here (RAGEN's code uses 0.1; set `low_reward` to get it). Either way the high-risk arm has the
higher expected reward (0.25), and success, like RAGEN's, means pulling the arm with the higher expected reward,
whatever this one pull happened to pay.

Task config (`BanditConfig`): `pair` ([low-risk name, high-risk name]; without it one is drawn from `split`, "train"
or "test"), `seed` (with the reset seed: arm order and reward draw), `low_reward`, `high_reward`, `high_prob`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from simyard.platform.api import Action, ActionSpec, Env, Observation, StepResult, Task
from simyard.sims.puzzles._common import Choices, instruction, read_config, rescore_by_replay, world_rng

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


class BanditConfig(BaseModel):
    """What a bandit task's `config` may hold: the arm names (or a split to draw them from) and the payouts."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    pair: tuple[str, str] | None = Field(
        None, description='two different non-empty names, low-risk first, e.g. ["Teacher", "Trader"]'
    )
    split: Literal["train", "test"] = Field("train", description="'train' or 'test': the names to draw a pair from")
    seed: int = Field(0, ge=-(1 << 63), description="an integer: with the reset seed, arm order and payout")
    low_reward: float = Field(LOW_REWARD, ge=-1e6, le=1e6, description="a number from -1e6 to 1e6")
    high_reward: float = Field(HIGH_REWARD, ge=-1e6, le=1e6, description="a number from -1e6 to 1e6")
    high_prob: float = Field(HIGH_PROB, ge=0.0, le=1.0, description="a number from 0 to 1")

    @field_validator("pair", mode="before")
    @classmethod
    def _pair_from_list(cls, value: object) -> object:
        # JSON has no tuples: a pair arrives as a list, which strict mode would refuse for a tuple field.
        if isinstance(value, list):
            return tuple(value)
        if value is not None and not isinstance(value, tuple):
            raise ValueError(f"{value!r} is not a list of two names")
        return value

    @field_validator("pair")
    @classmethod
    def _two_different_names(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is not None and (not all(value) or value[0] == value[1]):
            raise ValueError(f"{list(value)} is not two different non-empty names")
        return value


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
    config_model = BanditConfig
    rescore = classmethod(rescore_by_replay)

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
        config = read_config(BanditConfig, task)
        rng = world_rng(config.seed, seed or 0)
        pair = config.pair
        if pair is None:
            pair = ARM_PAIRS[config.split][int(rng.integers(len(ARM_PAIRS[config.split])))]
        self._low, self._high = pair
        self._low_reward, self._high_reward, self._high_prob = config.low_reward, config.high_reward, config.high_prob
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
        info = {
            "valid": valid,
            "feedback": feedback,
            "success": success,
            "progress": float(success),
            "action_is_effective": valid,
        }
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
