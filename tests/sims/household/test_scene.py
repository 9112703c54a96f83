"""The household scene: pictures agree with the state (seen where visible, hidden inside closed receptacles)."""

from __future__ import annotations

import numpy as np
import pytest

from simyard.sims import mjrender
from simyard.sims.household.appearance import COLORS
from simyard.sims.household.scene import FLOOR_RGBA, Scene, placements, pose_facing
from simyard.sims.household.state import AgentState, House, Room, Thing
from simyard.sims.mjrender import Renderer


def backend() -> str:
    """The process's backend: whatever an earlier test fixed (asked at test time), else OSMesa (CPU, everywhere)."""
    return mjrender.active_backend() or "osmesa"


SIZE = 200  # pixels a side: enough to find a 10 cm apple, a quarter of the cost of 500x500


@pytest.fixture(scope="module")
def renderer():
    with Renderer(backend(), SIZE, SIZE) as shared:
        yield shared


def scene(house: House, renderer: Renderer) -> Scene:
    return Scene(house, renderer, width_px=SIZE, height_px=SIZE, top_px=SIZE)


RECEPTACLES = {  # type: size (width, depth, height)
    "Fridge": (0.8, 0.7, 1.8),
    "Cabinet": (0.6, 0.5, 0.7),
    "Drawer": (0.6, 0.5, 0.3),
}


def kitchen(container: str = "Fridge", is_open: bool = False) -> House:
    """A kitchen: a closed receptacle against the west wall holding a red apple, a white table with a yellow mug."""
    house = House(rooms=[Room("kitchen", "kitchen", 0.0, 0.0, 5.0, 5.0)])
    width, depth, height = RECEPTACLES[container]
    box = Thing(f"{container}_01", container, container, "kitchen", (depth / 2, 2.5, height / 2), 0.0,
                (width, depth, height), "white", "metal", receptacle=True, openable=True, is_open=is_open)  # fmt: skip
    house.add(box)
    house.add(Thing("Apple_01", "Apple", "Apple", "kitchen", (depth / 2, 2.5, 0.1), 0.0, (0.1, 0.1, 0.1), "red",
                    "organic", "sphere", parent=f"{container}_01", pickable=True, sliceable=True))  # fmt: skip
    house.add(Thing("DiningTable_01", "DiningTable", "DiningTable", "kitchen", (3.0, 4.0, 0.4), 270.0,
                    (1.2, 0.8, 0.8), "white", "wood", receptacle=True))  # fmt: skip
    house.add(Thing("Mug_01", "Mug", "Mug", "kitchen", (3.0, 4.0, 0.86), 0.0, (0.1, 0.1, 0.12), "yellow",
                    "ceramic", "cylinder", parent="DiningTable_01", pickable=True))  # fmt: skip
    house.add(Thing("FloorLamp_01", "FloorLamp", "FloorLamp", "kitchen", (4.6, 0.4, 0.8), 90.0, (0.4, 0.4, 1.6),
                    "green", "metal", toggleable=True))  # fmt: skip
    house.agent = AgentState(pose=(2.5, 2.5, 0.0), horizon_deg=30.0)
    return house


def colour_pixels(image: np.ndarray, colour: str, near: tuple[float, float] | None = None, radius: int = 20) -> int:
    """How many pixels have the hue of a named colour (lighting scales a colour, so compare it normalised)."""
    if near is not None:
        column, row = int(near[0]), int(near[1])
        image = image[max(0, row - radius) : row + radius, max(0, column - radius) : column + radius]
    pixels = image.astype(float) / 255
    brightest = pixels.max(axis=2, keepdims=True)
    target = np.array(COLORS[colour][:3])
    close = np.abs(pixels / np.maximum(brightest, 1e-3) - target / target.max()).max(axis=2) < 0.12
    return int((close & (brightest[..., 0] > 0.15)).sum())


def look_at(house: House, thing_id: str) -> None:
    house.agent.pose = pose_facing(house, thing_id)


def test_a_thing_of_a_named_colour_is_in_the_frame_where_it_projects(renderer):
    house = kitchen()
    look_at(house, "Mug_01")
    with scene(house, renderer) as view:
        image = view.render("rgb")
        where = view.view("rgb").project(placements(house)["Mug_01"].center)
        assert where is not None
        assert colour_pixels(image, "yellow", where, radius=12) > 20
        assert colour_pixels(image, "red") == 0  # the apple is shut in the fridge
        assert "Mug_01" in view.visible()


@pytest.mark.parametrize("container", sorted(RECEPTACLES))
def test_a_thing_in_a_closed_receptacle_is_hidden_and_seen_once_it_opens(renderer, container):
    house = kitchen(container)
    look_at(house, "Apple_01")
    with scene(house, renderer) as view:
        closed = view.render("rgb")
        assert colour_pixels(closed, "red") == 0
        assert "Apple_01" not in view.visible()
        assert f"{container}_01" in view.visible()
        house.things[f"{container}_01"].is_open = True
        view.sync(house)
        opened = view.render("rgb")
        where = view.view("rgb").project(placements(house)["Apple_01"].center)
        assert where is not None
        assert colour_pixels(opened, "red", where, radius=15) > 10
        assert "Apple_01" in view.visible()


def test_a_thing_too_big_for_a_closed_receptacle_is_shrunk_and_stays_hidden(renderer):
    house = kitchen("Cabinet")
    house.add(Thing("Pot_01", "Pot", "Pot", "kitchen", (0.25, 2.5, 0.3), 0.0, (0.9, 0.9, 0.9), "blue", "metal",
                    "cylinder", parent="Cabinet_01", pickable=True))  # fmt: skip
    look_at(house, "Pot_01")
    assert placements(house)["Pot_01"].scale < 0.6
    with scene(house, renderer) as view:
        assert colour_pixels(view.render("rgb"), "blue") == 0
        assert "Pot_01" not in view.visible()


def test_the_same_house_gives_byte_identical_frames(renderer):
    house = kitchen(is_open=True)
    look_at(house, "Apple_01")
    with scene(house, renderer) as first, scene(house.copy(), renderer) as second:
        frames = [first.render("rgb"), first.render("rgb"), second.render("rgb")]
        tops = [first.render("top"), second.render("top")]
    assert frames[0].tobytes() == frames[1].tobytes() == frames[2].tobytes()
    assert tops[0].tobytes() == tops[1].tobytes()


def test_sync_after_moving_a_thing_changes_the_picture_without_recompiling(renderer):
    house = kitchen()
    look_at(house, "DiningTable_01")
    with scene(house, renderer) as view:
        before = view.render("rgb")
        model, made = view.model, renderer.contexts_made
        old = view.view("rgb").project(placements(house)["Mug_01"].center)
        house.things["Mug_01"].pos = (3.45, 3.8, 0.86)
        view.sync(house)
        after = view.render("rgb")
        new = view.view("rgb").project(placements(house)["Mug_01"].center)
        assert view.model is model and view.rebuilds == 0 and renderer.contexts_made == made
        assert before.tobytes() != after.tobytes()
        assert colour_pixels(after, "yellow", new, radius=10) > 10
        assert colour_pixels(after, "yellow", old, radius=5) == 0


def test_a_new_thing_rebuilds_the_model(renderer):
    house = kitchen()
    with scene(house, renderer) as view:
        model = view.model
        house.add(Thing("Apple_02", "Apple", "Apple_2", "kitchen", (3.2, 4.0, 0.85), 0.0, (0.1, 0.1, 0.1), "green",
                        "organic", "sphere", parent="DiningTable_01", pickable=True))  # fmt: skip
        view.sync(house)
        assert view.model is not model and view.rebuilds == 1


def test_the_top_view_shows_every_room(renderer):
    house = House(
        rooms=[
            Room("kitchen", "kitchen", 0.0, 0.0, 5.0, 5.0),
            Room("living room", "living room", 5.0, 0.0, 11.0, 5.0),
            Room("bedroom", "bedroom", 0.0, 5.0, 5.0, 9.0),
        ]
    )
    house.agent = AgentState(pose=(1.0, 1.0, 0.0))
    with scene(house, renderer) as view:
        image = view.render("top")
        camera = view.view("top")
        assert max(image.shape[:2]) == SIZE
        for room in house.rooms:
            where = camera.project(((room.x0 + room.x1) / 2, (room.y0 + room.y1) / 2, 0.0))
            assert where is not None
            seen = image[int(where[1]), int(where[0])].astype(float) / 255
            floor = np.array(FLOOR_RGBA[room.kind][:3])
            assert np.abs(seen / seen.max() - floor / floor.max()).max() < 0.08, room.kind
        labelled = view.render("top", labels=True)
        assert labelled.tobytes() != image.tobytes()


def test_detection_boxes_surround_the_things_seen(renderer):
    house = kitchen()
    look_at(house, "Mug_01")
    with scene(house, renderer) as view:
        boxes = view.detections()
        left, top, right, bottom = boxes["Mug_01"]
        column, row = view.view("rgb").project(placements(house)["Mug_01"].center)
        assert left <= column <= right and top <= row <= bottom
        assert set(boxes) == view.visible()
        plain, boxed = view.render("rgb"), view.render("rgb", boxes=True)
        assert plain.shape == boxed.shape and plain.tobytes() != boxed.tobytes()
        assert tuple(boxed[bottom, (left + right) // 2]) == (40, 255, 40)


def test_a_lamp_that_is_on_glows(renderer):
    house = kitchen()
    look_at(house, "FloorLamp_01")
    with scene(house, renderer) as view:
        off = view.render("rgb").astype(int).sum()
        house.things["FloorLamp_01"].is_on = True
        view.sync(house)
        on = view.render("rgb").astype(int).sum()
        assert on > off * 1.01
        assert view.model.light_active.sum() == 2  # the room's light and the lamp's


def test_a_sliced_thing_shows_its_slices(renderer):
    house = kitchen(is_open=True)
    house.things["Apple_01"].parent = "DiningTable_01"
    house.things["Apple_01"].pos = (3.2, 4.0, 0.85)
    look_at(house, "Apple_01")
    with scene(house, renderer) as view:
        whole = view.render("rgb")
        house.things["Apple_01"].is_sliced = True
        view.sync(house)
        sliced = view.render("rgb")
        assert view.rebuilds == 0
        assert whole.tobytes() != sliced.tobytes()
        assert "Apple_01" in view.visible()


def test_the_held_thing_is_in_front_of_the_camera(renderer):
    house = kitchen()
    house.agent.pose = (0.6, 0.6, 225.0)  # facing the south-west corner: nothing but walls and floor
    house.agent.holding = "Mug_01"
    house.things["Mug_01"].parent = None
    with scene(house, renderer) as view:
        assert view.visible() == {"Mug_01"}
        image = view.render("rgb")
        assert colour_pixels(image[SIZE // 2 :, SIZE // 2 :], "yellow") > 50


@pytest.mark.parametrize("thing_id", ["Mug_01", "DiningTable_01", "FloorLamp_01", "Fridge_01"])
def test_pose_facing_stands_in_the_room_clear_of_furniture_and_sees_the_thing(renderer, thing_id):
    house = kitchen(is_open=True)
    look_at(house, thing_id)
    x, y, _ = house.agent.pose
    assert house.rooms[0].contains(x, y)
    where = placements(house)
    for thing in house.things.values():
        if thing.parent is None:
            depth, width = thing.size_m[1], thing.size_m[0]
            distance = np.hypot(x - where[thing.id].center[0], y - where[thing.id].center[1])
            assert distance > min(depth, width) / 2, thing.id
    with scene(house, renderer) as view:
        assert thing_id in view.visible()


def test_a_generated_home_of_about_fifty_bodies_renders_and_finds(renderer):
    homes = pytest.importorskip("simyard.sims.household.homes")
    house = homes.generate(3)
    with scene(house, renderer) as view:
        assert view.model.nbody >= 40
        assert view.render("rgb").shape == (SIZE, SIZE, 3)
        assert view.render("top").dtype == np.uint8
        targets = [thing.id for thing in house.things.values() if not house.enclosed(thing.id)][:25]
        found = 0
        for thing_id in targets:
            house.agent.pose = pose_facing(house, thing_id, scene=view)
            found += thing_id in view.visible(house)
        assert found >= 0.9 * len(targets)


def test_a_dirty_thing_shows_stains_and_a_running_faucet_shows_water(renderer):
    house = kitchen()
    house.add(Thing("Faucet_01", "Faucet", "Faucet", "kitchen", (3.2, 4.3, 1.0), 270.0, (0.06, 0.2, 0.3), "gray",
                    "metal", "capsule", toggleable=True))  # fmt: skip
    look_at(house, "Mug_01")
    with scene(house, renderer) as view:
        clean = view.render("rgb")
        house.things["Mug_01"].is_dirty = True
        view.sync(house)
        dirty = view.render("rgb")
        house.things["Faucet_01"].is_on = True
        view.sync(house)
        running = view.render("rgb")
        assert view.rebuilds == 0
        assert len({clean.tobytes(), dirty.tobytes(), running.tobytes()}) == 3
        assert colour_pixels(dirty, "yellow") > 0  # stains, not a new colour: "the yellow mug" is still yellow
