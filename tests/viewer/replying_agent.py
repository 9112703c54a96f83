"""A test agent that plays the world's solver but answers like a model: a reply with reasoning, tokens and latency.

Imported as a plugin by the viewer's run fixtures, so the recorded steps carry model calls as a real model's do. Its
replies hold markup on purpose (`<b>`, `[red]`): the viewer must show them as text.
"""

from __future__ import annotations

import simyard
from simyard.agents.baselines import OracleAgent
from simyard.platform.api import Decision, ModelCall


class ReplyingOracle(OracleAgent):
    """The oracle, with each action wrapped in a RAGEN-style reply numbered by the turn."""

    name = "viewer-replying"

    def reset(self, task, spec) -> None:  # noqa: ANN001 -- the Agent signature
        self.turn = 0

    def act(self, observation: simyard.Observation) -> Decision:
        planned = super().act(observation)
        action = planned[0] if isinstance(planned, list) else planned
        self.turn += 1
        text = f"<think>turn {self.turn}: <b>push</b> [red]on[/red]</think><answer>{action}</answer>"
        call = ModelCall(text=text, prompt_tokens=100 + self.turn, completion_tokens=10 + self.turn,
                         latency_s=0.25, finish_reason="stop")
        return Decision(actions=[action], calls=[call])


simyard.register_agent("viewer-replying", ReplyingOracle)
