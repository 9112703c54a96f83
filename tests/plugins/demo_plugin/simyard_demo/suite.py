"""The `demo-coins` suite."""

from __future__ import annotations

from simyard import Task


def coin_suite() -> list[Task]:
    """Four coins, two of each side (the demo plugin's suite)."""
    return [Task(id=f"coin-{side}-{index}", world="demo-coin", subset=side, config={"side": side}, max_steps=3)
            for side in ("heads", "tails") for index in range(2)]
