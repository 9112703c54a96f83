"""A test plugin: the oracle's moves handed over as a model would, with a reply, token ids and log-probabilities.

It lets an export test see every ATIF field a model agent fills (messages, per-step metrics, token ids) through the
real bench runner, without a model: the reply text and the numbers are made up, the actions are the world's own.
"""

from __future__ import annotations

import simyard
from simyard.platform.api import Agent, Decision, Env, ModelCall, Observation, WorldAware


class ReplyingOracle(Agent, WorldAware):
    """Plays the world's oracle one action a turn, reporting each turn as one model call; its first reply of an
    episode holds no usable action, as a model's reply sometimes does."""

    name = "replying-oracle"

    def attach(self, env: Env) -> None:
        self._env = env
        self._turn = 0

    def act(self, observation: Observation) -> Decision:
        planned = self._env.oracle()
        action = planned[0] if isinstance(planned, list) else planned
        self._turn += 1
        tokens = [100 + self._turn, 200 + self._turn, 7]
        call = ModelCall(text=f"<think>turn {self._turn} & <b>tags</b></think><answer>{action}</answer>",
                         prompt_tokens=40 + self._turn, completion_tokens=len(tokens), latency_s=0.01,
                         cost_usd=0.001, token_ids=tokens, logprobs=[-0.5, -0.25, -0.125], finish_reason="stop")
        if self._turn == 1:  # a reply a format could not parse: an agent step with no tool call
            return Decision(actions=[], calls=[call], error="the reply held no <answer>")
        return Decision(actions=[action], calls=[call])


simyard.register_agent("replying-oracle", ReplyingOracle)
