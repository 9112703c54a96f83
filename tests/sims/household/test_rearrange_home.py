"""The ReplicaCAD-like apartment generator: determinism, EB-Habitat's receptacles, furniture without overlap."""

from __future__ import annotations

from simyard.sims.household import habitat_home as home


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_the_same_seed_gives_the_same_house():
    assert home.generate(11).to_dict() == home.generate(11).to_dict()


def test_different_seeds_give_different_houses():
    assert home.generate(11).to_dict() != home.generate(12).to_dict()


def test_every_house_has_ebhabitats_receptacles():
    house = home.generate(5)
    assert set(home.NAV_TARGETS) <= set(house.things)
    assert len(home.NAV_TARGETS) == 16 and len(home.PLACE_TARGETS) == 11


def test_furniture_never_overlaps_and_stays_inside_the_apartment():
    for seed in range(200):
        house = home.generate(seed)
        furniture = [thing for thing in house.things.values() if not thing.pickable and thing.type != "push_point"]
        width = max(room.x1 for room in house.rooms)
        depth = max(room.y1 for room in house.rooms)
        for index, thing in enumerate(furniture):
            x0, y0, x1, y1 = home.footprint(thing)
            assert 0 <= x0 and x1 <= width and 0 <= y0 and y1 <= depth, (seed, thing.id)
            for other in furniture[index + 1 :]:
                assert not _overlap(home.footprint(thing), home.footprint(other)), (seed, thing.id, other.id)


def test_objects_lie_in_or_on_receptacles_one_of_each_class():
    for seed in range(50):
        house = home.generate(seed)
        objects = [thing for thing in house.things.values() if thing.pickable]
        assert home.OBJECTS_PER_SCENE[0] <= len(objects) <= home.OBJECTS_PER_SCENE[1]
        assert len({thing.type for thing in objects}) == len(objects)
        for thing in objects:
            assert thing.id == thing.name == thing.type and thing.type in home.KIND
            assert house.things[thing.parent].receptacle


def test_objects_on_one_receptacle_never_share_a_slot():
    for seed in range(50):
        house = home.generate(seed)
        spots = [(t.parent, t.pos[:2]) for t in house.things.values() if t.pickable]
        assert len(set(spots)) == len(spots)


def test_containers_start_closed_so_what_they_hold_is_hidden():
    house = home.generate(3)
    for spot in ("refrigerator", *home.CABINETS):
        assert house.things[spot].openable and not house.things[spot].is_open
    hidden = [t for t in house.things.values() if t.pickable and t.parent in ("refrigerator", *home.CABINETS)]
    assert all(house.enclosed(thing.id) for thing in hidden)


def test_the_two_tables_differ_in_colour_so_instructions_can_name_them_by_it():
    for seed in range(50):
        house = home.generate(seed)
        assert house.things["table_1"].color != house.things["table_2"].color


def test_left_and_right_are_as_seen_facing_the_counter():
    house = home.generate(9)
    xs = [house.things[spot].pos[0] for spot in ("left_drawer", "left_counter", "sink", "right_counter")]
    assert xs == sorted(xs)
    assert house.things["right_drawer"].pos[0] < house.things["refrigerator"].pos[0]


def test_every_object_class_has_plain_words_for_skills():
    assert home.SKILL_WORDS["toy_airplane"] == "toy airplane"
    assert home.SKILL_WORDS["left_counter"] == "left counter in the kitchen"
    assert home.SHORT_NAMES["left_counter"] == "left counter"
