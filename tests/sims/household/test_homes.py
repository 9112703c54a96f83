"""Procedural homes: deterministic, fast, ALFRED's vocabulary, furniture without overlap, objects in receptacles
that take them (some hidden in closed ones), and instances of a type that look different."""

from __future__ import annotations

import itertools
import time

from simyard.sims.household import homes, vocab
from simyard.sims.household.appearance import COLORS, MATERIALS, SHAPES

SEEDS = range(40)


def test_the_same_seed_gives_the_same_house():
    assert homes.generate(7).to_dict() == homes.generate(7).to_dict()


def test_different_seeds_give_different_houses():
    assert len({str(homes.generate(seed).to_dict()) for seed in range(10)}) == 10


def test_a_home_is_generated_in_a_few_milliseconds():
    started = time.perf_counter()
    for seed in range(50):
        homes.generate(seed)
    assert (time.perf_counter() - started) / 50 < 0.005


def test_rooms_are_alfreds_kinds_and_vary_in_number():
    counts = set()
    for seed in SEEDS:
        house = homes.generate(seed)
        assert {room.kind for room in house.rooms} <= set(homes.ROOM_KINDS)
        counts.add(len(house.rooms))
    assert {1, 2, 3} <= counts


def test_furniture_footprints_do_not_overlap():
    for seed in SEEDS:
        house = homes.generate(seed)
        standing = [t for t in house.things.values() if t.parent is None and t.type not in homes.MOUNTED]
        for a, b in itertools.combinations(standing, 2):
            ax0, ay0, ax1, ay1 = homes.footprint(a)
            bx0, by0, bx1, by1 = homes.footprint(b)
            overlap = min(ax1, bx1) - max(ax0, bx0) > 1e-6 and min(ay1, by1) - max(ay0, by0) > 1e-6
            assert not overlap, (seed, a.id, b.id)


def test_furniture_stands_inside_its_room():
    for seed in SEEDS:
        house = homes.generate(seed)
        rooms = {room.name: room for room in house.rooms}
        for thing in house.things.values():
            if thing.parent is None:
                x0, y0, x1, y1 = homes.footprint(thing)
                room = rooms[thing.room]
                assert room.x0 - 1e-6 <= x0 and x1 <= room.x1 + 1e-6 and room.y0 - 1e-6 <= y0 and y1 <= room.y1 + 1e-6


def test_every_type_is_in_alfreds_vocabulary_with_its_properties():
    known = (
        set(vocab.FIND_TYPES) | set(vocab.PICKUP_TYPES) | vocab.FIXED_RECEPTACLES | set(vocab.SKILL_ALIASES.values())
    )
    for seed in SEEDS:
        for thing in homes.generate(seed).things.values():
            assert thing.type in known, thing.type
            info = vocab.properties(thing.type)
            assert (thing.pickable, thing.receptacle, thing.openable, thing.toggleable) == (
                info.pickable, info.receptacle, info.openable, info.toggleable,
            )  # fmt: skip


def test_objects_start_in_receptacles_that_accept_them():
    for seed in SEEDS:
        house = homes.generate(seed)
        for thing in house.things.values():
            if thing.pickable:
                assert thing.parent is not None, thing.id
                holder = house.things[thing.parent]
                assert vocab.properties(holder.type).accepts(thing.type), (thing.id, holder.id)


def test_some_objects_start_hidden_in_closed_receptacles():
    hidden = [
        thing.id for seed in SEEDS for house in [homes.generate(seed)] for thing in house.things.values()
        if thing.pickable and house.enclosed(thing.id)
    ]  # fmt: skip
    assert len(hidden) > len(SEEDS)


def test_names_follow_eb_alfred_type_then_type_2():
    house = homes.generate(3)
    by_type: dict[str, list[str]] = {}
    for thing_id in sorted(house.things):
        by_type.setdefault(house.things[thing_id].type, []).append(house.things[thing_id].name)
    for type_, names in by_type.items():
        assert names == [type_] + [f"{type_}_{n}" for n in range(2, len(names) + 1)]


def test_instances_of_an_object_type_have_different_colours():
    for seed in SEEDS:
        house = homes.generate(seed)
        for type_ in {t.type for t in house.things.values() if t.pickable}:
            colors = [t.color for t in house.of_type(type_)]
            assert len(colors) == len(set(colors)), (seed, type_, colors)


def test_appearance_names_are_ones_the_scene_knows():
    for seed in SEEDS:
        for thing in homes.generate(seed).things.values():
            assert thing.color in COLORS and thing.material in MATERIALS and thing.shape in SHAPES


def test_kitchens_have_what_heat_cool_and_clean_tasks_need():
    for seed in SEEDS:
        house = homes.generate(seed)
        for room in house.rooms:
            if room.kind == "kitchen":
                types = {t.type for t in house.things.values() if t.room == room.name}
                assert {"Fridge", "Microwave", "SinkBasin", "Faucet", "CounterTop", "Knife"} <= types


def test_bedrooms_have_a_lamp_for_look_at_tasks():
    for seed in SEEDS:
        house = homes.generate(seed)
        for room in house.rooms:
            if room.kind == "bedroom":
                assert any(t.type in vocab.LAMPS for t in house.things.values() if t.room == room.name)


def test_some_cleanable_objects_start_dirty_and_nothing_else_does():
    things = [thing for seed in SEEDS for thing in homes.generate(seed).things.values()]
    dirty = [thing for thing in things if thing.is_dirty]
    assert dirty and all(thing.type in vocab.CLEANABLE for thing in dirty)
