"""The `demo-heads` agent."""

from __future__ import annotations

from simyard import Agent


class AlwaysHeads(Agent):
    """Always says heads (or whatever `side` names): the demo plugin's agent.

    Args:
        side: The side to name every time.
    """

    name = "demo-heads"

    def __init__(self, side: str = "heads") -> None:
        self.side = side

    def act(self, observation):
        return self.side
