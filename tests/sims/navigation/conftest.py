"""A small handmade kitchen for the `navigation` world's tests, so each move's effect can be checked by hand.

The room is 5 x 5 m from (0, 0): a counter against the wall y = 0 with a loaf of bread on it, a fridge against the
wall x = 0, a cabinet against the wall x = 5. The agent starts 3 m from the bread, facing it (yaw 270: -y).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simyard.platform.api import Task
from simyard.sims.household import vocab
from simyard.sims.household.state import House, Room, Thing
from simyard.sims.navigation.world import NavigationEnv

BREAD_XY = (2.5, 0.4)
START = (2.5, 3.4, 270.0)

# id, type, position, yaw, parent
_THINGS = [
    ("CounterTop_01", "CounterTop", (2.5, 0.36, 0.45), 90.0, None),
    ("Bread_01", "Bread", (2.5, 0.4, 0.96), 90.0, "CounterTop_01"),
    ("Fridge_01", "Fridge", (0.41, 2.5, 0.9), 0.0, None),
    ("Cabinet_01", "Cabinet", (4.69, 4.0, 0.35), 180.0, None),
]


def kitchen() -> House:
    house = House(rooms=[Room("kitchen", "kitchen", 0.0, 0.0, 5.0, 5.0)])
    for thing_id, type_, pos, yaw, parent in _THINGS:
        flags = vocab.properties(type_).thing_flags()
        house.add(Thing(id=thing_id, type=type_, name=type_, room="kitchen", pos=pos, yaw_deg=yaw, parent=parent,
                        **flags))  # fmt: skip
    house.name_instances()
    return house


def kitchen_task(start: tuple[float, float, float] = START, horizon_deg: float = 30.0, **config) -> Task:
    values = {
        "instruction": "navigate to the Bread in the room and be as close as possible to it",
        "target_id": "Bread_01",
        "target_type": "Bread",
        "target_xy": BREAD_XY,
        "start": start,
        "horizon_deg": horizon_deg,
        "scene": kitchen().to_dict(),
        **config,
    }
    return Task(id="kitchen", world="navigation", instruction=values["instruction"], config=values, max_steps=20,
                max_invalid=None)  # fmt: skip


@pytest.fixture
def world() -> Callable[..., NavigationEnv]:
    """A text-only navigation world reset on the handmade kitchen, from `start`."""
    made: list[NavigationEnv] = []

    def make(start: tuple[float, float, float] = START, **config) -> NavigationEnv:
        env = NavigationEnv(render="none")
        env.reset(kitchen_task(start, **config))
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


def pose(env: NavigationEnv) -> tuple[float, float, float]:
    return tuple(round(v, 6) for v in env.state()["pose"])  # type: ignore[return-value]
