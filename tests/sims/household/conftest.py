"""A small handmade kitchen for the `household` world's tests, so each skill's effect can be checked by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simyard.platform.api import Task
from simyard.sims.household import vocab
from simyard.sims.household.alfred import HouseholdEnv
from simyard.sims.household.state import House, Room, Thing

# id, type, position, yaw, parent, extra flags
_KITCHEN = [
    ("Fridge_01", "Fridge", (0.5, 0.4, 0.9), 90.0, None, {}),
    ("CounterTop_01", "CounterTop", (2.0, 0.3, 0.45), 90.0, None, {}),
    ("SinkBasin_01", "SinkBasin", (3.5, 0.3, 0.85), 90.0, None, {}),
    ("Faucet_01", "Faucet", (3.5, 0.1, 1.05), 90.0, None, {}),
    ("Microwave_01", "Microwave", (4.5, 0.3, 1.05), 90.0, None, {}),
    ("Cabinet_01", "Cabinet", (0.3, 2.0, 0.35), 0.0, None, {}),
    ("Cabinet_02", "Cabinet", (0.3, 3.0, 0.35), 0.0, None, {}),
    ("Drawer_01", "Drawer", (0.3, 4.0, 0.1), 0.0, None, {}),
    ("DiningTable_01", "DiningTable", (3.0, 3.0, 0.37), 90.0, None, {}),
    ("SideTable_01", "SideTable", (5.5, 4.5, 0.3), 180.0, None, {}),
    ("DeskLamp_01", "DeskLamp", (5.5, 4.5, 0.8), 180.0, "SideTable_01", {}),
    ("Apple_01", "Apple", (2.0, 0.3, 0.94), 90.0, "CounterTop_01", {"color": "red"}),
    ("Apple_02", "Apple", (0.5, 0.4, 0.5), 90.0, "Fridge_01", {"color": "green"}),
    ("Knife_01", "Knife", (2.3, 0.3, 0.91), 90.0, "CounterTop_01", {}),
    ("Mug_01", "Mug", (0.3, 2.0, 0.1), 0.0, "Cabinet_01", {}),
    ("Bowl_01", "Bowl", (3.0, 3.0, 0.78), 90.0, "DiningTable_01", {}),
    ("Pan_01", "Pan", (2.6, 0.3, 0.93), 90.0, "CounterTop_01", {}),
    ("AlarmClock_01", "AlarmClock", (3.2, 3.1, 0.8), 90.0, "DiningTable_01", {}),
]


def kitchen() -> House:
    """One kitchen: a fridge with an apple inside, a counter with an apple, a knife and a pan, a sink with its
    faucet, a microwave, two cabinets (a mug in the first), a drawer, a dining table with a bowl and an alarm clock,
    and a desk lamp on a side table. Everything openable starts closed."""
    house = House(rooms=[Room("kitchen", "kitchen", 0.0, 0.0, 6.0, 5.0)])
    for thing_id, type_, pos, yaw, parent, extra in _KITCHEN:
        flags = vocab.properties(type_).thing_flags()
        flags.update(extra)
        house.add(Thing(id=thing_id, type=type_, name=type_, room="kitchen", pos=pos, yaw_deg=yaw, parent=parent,
                        **flags))  # fmt: skip
    house.name_instances()
    house.agent.pose = (3.0, 2.0, 90.0)
    return house


def kitchen_task(goals: list[str], house: House | None = None, **config) -> Task:
    scene = (house or kitchen()).to_dict()
    return Task(
        id="kitchen",
        world="household",
        instruction="do the thing",
        config={"instruction": "do the thing", "goals": goals, "scene": scene, **config},
    )


@pytest.fixture
def world() -> Callable[..., HouseholdEnv]:
    """A text-only household world reset on the handmade kitchen with the given goals."""
    made: list[HouseholdEnv] = []

    def make(goals: list[str] | None = None, house: House | None = None, **config) -> HouseholdEnv:
        env = HouseholdEnv(render="none")
        env.reset(kitchen_task(goals or ["inside(Apple, DiningTable)"], house, **config))
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()
