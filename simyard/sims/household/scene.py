"""A household as a MuJoCo scene: pictures of a `House`, what the agent sees, and where to stand to see a thing.

`Scene(house)` compiles one MuJoCo model per reset: a floor per room (coloured by the room's kind), walls with a
doorway where two rooms meet, a ceiling (hidden from the map), and every thing as a mocap body of shaped, coloured
geoms (`Thing.shape`, `size_m`, `color`, `material`, `yaw_deg`). Receptacles that open are built as boxes with walls
and a door (a lid for a Box; a Drawer is a tray that slides out of its case), so a thing inside a closed one is
hidden by geometry, not by a flag; open ones show their contents. Things on a receptacle sit on its top, things in
a basin on its bottom; a lamp that is on glows and lights the room; a sliced thing shows as slices; the held thing
floats in front of the camera.

`scene.sync(house)` moves it all to the house's state without recompiling: mocap poses, door poses, geom groups
(whole or sliced), sizes (a thing too big for the receptacle it was put in is shrunk to fit, so it stays hidden when
the door closes), light switches and emission. Only a change in which things exist or how they look (ids, types,
shapes, sizes, colours) rebuilds the model (`scene.rebuilds` counts them).

Views: `render("rgb")` is egocentric, from `house.agent.pose` (x, y, yaw) at eye height with `horizon_deg`
looking down; `render("top")` is an orthographic map of the whole home with the agent as a red arrow. Both can
draw detection boxes labelled with `Thing.name`, as EmbodiedBench offers. `visible()` says which things the
egocentric view shows, from MuJoCo's segmentation rendering (pixels per geom, mapped to things).

Conventions (shared with `homes.py`): metres, z up; `Thing.pos` is the centre of the thing's box; `yaw_deg` is
the direction its front faces; `size_m` is (width, depth, height), width across the front, depth along the facing.
The scene trusts `pos` x and y, but derives the height from what holds the thing, so a rule that moves a thing need
not know furniture heights; an unparented thing stands on the floor unless its `pos` z lifts it higher (a
microwave on a counter).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from simyard.sims.household.appearance import COLORS, MATERIALS
from simyard.sims.household.state import House, Room, Thing
from simyard.sims.mjrender import Renderer, View, renderer_for

if TYPE_CHECKING:
    import mujoco

EYE_HEIGHT_M = 1.5
WALL_HEIGHT_M = 2.6
WALL_THICKNESS_M = 0.1
DOORWAY_M = 1.0
#: ALFRED's AI2-THOR camera sees 90 degrees; EB-Navigation asks for 100 and can pass `fovy_deg`.
FOVY_DEG = 90.0
#: How far in front of a thing `pose_facing` stands, and how much room the agent's body takes.
STAND_OFF_M = 1.0
AGENT_RADIUS_M = 0.25

#: Floor and wall colours by room kind: a VLM can tell a kitchen's tiles from a living room's wood.
FLOOR_RGBA = {
    "kitchen": (0.82, 0.78, 0.68, 1.0),
    "living room": (0.55, 0.38, 0.22, 1.0),
    "bedroom": (0.45, 0.50, 0.62, 1.0),
    "bathroom": (0.78, 0.88, 0.92, 1.0),
}
WALL_RGBA = {
    "kitchen": (0.93, 0.90, 0.80, 1.0),
    "living room": (0.90, 0.86, 0.78, 1.0),
    "bedroom": (0.84, 0.86, 0.90, 1.0),
    "bathroom": (0.90, 0.93, 0.94, 1.0),
}
_DEFAULT_FLOOR = (0.6, 0.6, 0.6, 1.0)

#: Receptacles that open by sliding a tray out (with their contents) or by lifting a lid; others swing a door.
SLIDING = frozenset({"Drawer"})
LIDDED = frozenset({"Box"})
#: Receptacles open at the top that hold things on their inner floor rather than on their top.
BASINS = frozenset({"SinkBasin", "BathtubBasin", "GarbageCan", "LaundryHamper", "Bowl", "Pot", "Pan", "Cup", "Mug"})
#: Toggleable things that run water when on (the others glow).
RUNNING_WATER = frozenset({"Faucet"})
#: Receptacles drawn as a top on legs.
TABLES = frozenset({"DiningTable", "CoffeeTable", "SideTable", "Desk"})

# Geom groups: 0 in every view, 1 only in the egocentric view (ceilings), 2 only on the map (the agent arrow),
# 5 in none (the inactive form of a thing: whole when sliced, slices when whole).
_SEEN, _EGO_ONLY, _MAP_ONLY, _HIDDEN = 0, 1, 2, 5
_DOOR_OPEN_DEG = 100.0
_HALF = math.sqrt(0.5)
_MIN_PIXELS = 6  # segmentation pixels (at half resolution: ~24 in a full frame) for a thing to count as seen


# ------------------------------------------------------------------------------------------------- placement


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the scene draws a thing: the centre of its box, its yaw, and a scale (< 1 when shrunk to fit)."""

    center: tuple[float, float, float]
    yaw_deg: float
    scale: float = 1.0


def extents(thing: Thing) -> tuple[float, float, float]:
    """(x, y, z) extents of a thing in its own frame, front along +x: (depth, width, height)."""
    width, depth, height = (max(float(side), 0.01) for side in thing.size_m)
    return depth, width, height


def wall_m(thing: Thing) -> float:
    """Wall thickness of a receptacle built as a box."""
    return min(0.03, max(0.008, 0.06 * min(extents(thing))))


def placements(house: House) -> dict[str, Placement]:
    """Where every thing is drawn, from the state alone (also used without MuJoCo, by `pose_facing`)."""
    done: dict[str, Placement] = {}
    spots = _arrangement(house)
    for thing_id in house.things:
        _place(house, thing_id, done, spots, set())
    return done


def _place(house: House, thing_id: str, done: dict[str, Placement], spots: dict[str, tuple], busy: set) -> Placement:
    if thing_id in done:
        return done[thing_id]
    thing = house.things[thing_id]
    depth, width, height = extents(thing)
    if house.agent.holding == thing_id:
        placement = _in_hand(house, thing)
    elif thing.parent is None or thing.parent not in house.things or thing_id in busy:
        x, y, z = thing.pos
        placement = Placement((float(x), float(y), max(float(z), height / 2)), float(thing.yaw_deg))
    else:
        busy.add(thing_id)
        host = house.things[thing.parent]
        where = _place(house, host.id, done, spots, busy)
        placement = _on_host(thing, host, where, spots.get(thing_id, (0.0, 0.0)))
    done[thing_id] = placement
    return placement


def _inside(host: Thing) -> tuple[bool, bool, float]:
    """(enclosed: walls and a door, inner: holds things on an inner floor, wall thickness) of a receptacle."""
    enclosed = host.openable and host.receptacle
    inner = enclosed or host.type in BASINS
    return enclosed, inner, wall_m(host) if inner else 0.0


def _on_host(thing: Thing, host: Thing, where: Placement, spot: tuple[float, float]) -> Placement:
    """A thing in or on `host` (drawn at `where`): inside its walls, on its inner floor or on its top.

    `spot` is the thing's offset from the host's centre in the host's frame (unscaled). Something too big for a
    closed receptacle is shrunk to fit, so the door still hides it. In a basin deeper than twice the thing's height
    and narrow (a garbage can, a hamper) the thing rests half out of it, as on a pile, since from standing height
    nothing on such a basin's floor can be seen.
    """
    depth, width, height = extents(thing)
    h_depth, h_width, h_height = (side * where.scale for side in extents(host))
    enclosed, inner, wall = _inside(host)
    wall *= where.scale
    room_x, room_y = h_depth / 2 - wall, h_width / 2 - wall
    scale = 1.0
    if inner:
        fit = min(2 * room_x / max(depth, width), 2 * room_y / max(depth, width))
        if enclosed:
            fit = min(fit, (h_height - 2 * wall) / height)
        scale = max(0.05, min(1.0, 0.95 * fit))
    half = max(depth, width) * scale / 2
    local_x = float(np.clip(spot[0] * where.scale, -max(room_x - half, 0.0), max(room_x - half, 0.0)))
    local_x += _slide(host, where.scale)
    local_y = float(np.clip(spot[1] * where.scale, -max(room_y - half, 0.0), max(room_y - half, 0.0)))
    yaw = math.radians(where.yaw_deg)
    x = where.center[0] + math.cos(yaw) * local_x - math.sin(yaw) * local_y
    y = where.center[1] + math.sin(yaw) * local_x + math.cos(yaw) * local_y
    top = where.center[2] + h_height / 2
    base = where.center[2] - h_height / 2 + wall if inner else top
    if inner and not enclosed and h_height - wall > 2 * height * scale and max(h_depth, h_width) < 0.8:
        base = top - height * scale / 2
    return Placement((x, y, base + height * scale / 2 + 0.002), float(thing.yaw_deg), scale)


_ARRANGEMENTS: dict[tuple, dict[str, tuple[float, float]]] = {}


def _arrangement(house: House) -> dict[str, tuple[float, float]]:
    """Each child's spot on or in its host (offset in the host's frame), moved where it would overlap a sibling.

    Generators and rules place children at random or at the host's centre; drawn as given, a credit card could lie
    inside a tissue box and never be seen. Children keep their spot unless it overlaps one taken earlier (biggest
    first, then by id, so the picture does not depend on order); then they take the nearest free spot on a grid over
    the host. Cached by the children's positions and hosts, since it is the one part of a sync that costs more than
    a pass.
    """
    key = tuple(
        (t.id, t.parent, t.pos, t.size_m, house.things[t.parent].pos, house.things[t.parent].yaw_deg)
        for t in house.things.values()
        if t.parent in house.things and t.id != house.agent.holding
    )
    cached = _ARRANGEMENTS.get(key)
    if cached is not None:
        return cached
    by_host: dict[str, list[Thing]] = {}
    for thing in house.things.values():
        if thing.parent in house.things and thing.id != house.agent.holding:
            by_host.setdefault(thing.parent, []).append(thing)
    spots: dict[str, tuple[float, float]] = {}
    for host_id, children in by_host.items():
        host = house.things[host_id]
        _, _, wall = _inside(host)
        h_depth, h_width, _ = extents(host)
        room_x, room_y = h_depth / 2 - wall, h_width / 2 - wall
        yaw = math.radians(host.yaw_deg)
        taken: list[tuple[float, float, float]] = []
        # Big things first, so small ones fill the gaps between them rather than end up under them.
        for child in sorted(children, key=lambda thing: (-extents(thing)[0] * extents(thing)[1], thing.id)):
            radius = min(0.8 * max(extents(child)[:2]) / 2, room_x, room_y)
            dx, dy = child.pos[0] - host.pos[0], child.pos[1] - host.pos[1]
            want = (math.cos(yaw) * dx + math.sin(yaw) * dy, -math.sin(yaw) * dx + math.cos(yaw) * dy)
            want = (float(np.clip(want[0], radius - room_x, room_x - radius)),
                    float(np.clip(want[1], radius - room_y, room_y - radius)))  # fmt: skip
            spot = want
            if taken and _gap(spot, radius, taken) < 0.01:
                grid = [
                    (float(gx), float(gy))
                    for gx in np.linspace(radius - room_x, room_x - radius, 7)
                    for gy in np.linspace(radius - room_y, room_y - radius, 7)
                ]
                grid.sort(key=lambda p: (math.hypot(p[0] - want[0], p[1] - want[1]), p))
                free = [p for p in grid if _gap(p, radius, taken) >= 0.01]
                # The nearest free spot, else the one that overlaps least.
                spot = free[0] if free else max(grid, key=lambda p: _gap(p, radius, taken))
            taken.append((*spot, radius))
            spots[child.id] = spot
    if len(_ARRANGEMENTS) > 16:
        _ARRANGEMENTS.clear()
    _ARRANGEMENTS[key] = spots
    return spots


def _gap(spot: tuple[float, float], radius: float, taken: list[tuple[float, float, float]]) -> float:
    """Clearance between a disc at `spot` and the nearest disc already taken (negative: they overlap)."""
    return min(math.hypot(spot[0] - x, spot[1] - y) - radius - r for x, y, r in taken)


def eye(house: House) -> tuple[np.ndarray, np.ndarray]:
    """The egocentric camera's position and unit forward vector."""
    x, y, yaw_deg = house.agent.pose
    yaw, pitch = math.radians(yaw_deg), math.radians(house.agent.horizon_deg)
    forward = np.array([math.cos(yaw) * math.cos(pitch), math.sin(yaw) * math.cos(pitch), -math.sin(pitch)])
    return np.array([float(x), float(y), EYE_HEIGHT_M]), forward


def _in_hand(house: House, thing: Thing) -> Placement:
    """The held thing: half a metre ahead, a little below and right of the view's centre, at most 25 cm big."""
    position, forward = eye(house)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    center = position + 0.5 * forward - 0.12 * up + 0.1 * right
    scale = min(1.0, 0.25 / max(thing.size_m))
    return Placement(tuple(float(v) for v in center), float(house.agent.pose[2]), scale)


# ------------------------------------------------------------------------------------------------ standing pose


def pose_facing(
    house: House, thing_id: str, distance_m: float = STAND_OFF_M, scene: Scene | None = None
) -> tuple[float, float, float]:
    """A standing pose (x, y, yaw_deg) about `distance_m` in front of a thing, looking at it.

    Tries the front of the furniture that holds the thing (the side a person uses), then the other sides and
    directions in between, each at `distance_m` from the thing or just clear of the furniture if that is deeper;
    takes the first spot inside the thing's room, clear of the walls and of all other furniture by the agent's
    radius. When none is clear, the spot with the most clearance. Deterministic.

    With `scene` (synced to `house` or not), the first clear spot from which the egocentric view really shows the
    thing (at most 12 segmentation renders, ~3 ms each at 500x500), so a `find` brings the thing into view whenever
    a neighbour on the same table does not hide it from every side; the agent's pose is left as it was.

    Raises:
        KeyError: `thing_id` is not in the house.
    """
    wanted = 1 if scene is None else 12
    clear: list[tuple[float, float, float]] = []
    best: tuple[float, tuple[float, float, float]] | None = None
    for clearance, pose in _standing_spots(house, thing_id, distance_m):  # lazily: the first spots are usually clear
        if clearance >= AGENT_RADIUS_M:
            clear.append(pose)
            if len(clear) == wanted:
                break
        if best is None or clearance > best[0]:
            best = (clearance, pose)
    if not clear:
        assert best is not None
        return best[1]
    if scene is not None:
        before = house.agent.pose
        try:
            for pose in clear:
                house.agent.pose = pose
                if thing_id in scene.visible(house):
                    return pose
        finally:
            house.agent.pose = before
            scene.sync(house)
    return clear[0]


def _standing_spots(
    house: House, thing_id: str, distance_m: float
) -> Iterator[tuple[float, tuple[float, float, float]]]:
    """(clearance, pose) of every candidate standing spot, in order of preference, computed as they are asked for."""
    where = placements(house)
    anchor = house.things[thing_id]
    for holder in house.ancestors(thing_id):
        anchor = holder
    tx, ty, _ = where[thing_id].center
    ax, ay, _ = where[anchor.id].center
    depth, width, _ = extents(anchor)
    room = _room_of(house, anchor, (ax, ay))
    obstacles = [
        (where[other.id], extents(other))
        for other in house.things.values()
        if other.parent is None and other.id != anchor.id and other.id != house.agent.holding
    ]
    for turn in (0, 180, 90, -90, 45, -45, 135, -135, 30, -30, 60, -60, 120, -120, 150, -150):
        heading = math.radians(anchor.yaw_deg + turn)
        reach = abs(math.cos(math.radians(turn))) * depth / 2 + abs(math.sin(math.radians(turn))) * width / 2
        for stand in (max(distance_m, reach + 0.45), max(distance_m * 0.75, reach + 0.35), distance_m * 1.3):
            x, y = ax + stand * math.cos(heading), ay + stand * math.sin(heading)
            pose = (round(x, 3), round(y, 3), round(math.degrees(math.atan2(ty - y, tx - x)) % 360.0, 3))
            yield _clearance((x, y), room, obstacles), pose


def _room_of(house: House, thing: Thing, xy: tuple[float, float]) -> Room | None:
    for room in house.rooms:
        if room.name == thing.room:
            return room
    return next((room for room in house.rooms if room.contains(*xy)), None)


def _clearance(xy: tuple[float, float], room: Room | None, obstacles: list) -> float:
    """Distance from a point to the nearest wall of its room or furniture footprint (negative inside one)."""
    x, y = xy
    clear = math.inf
    if room is not None:
        margin = WALL_THICKNESS_M / 2
        clear = min(x - room.x0, room.x1 - x, y - room.y0, room.y1 - y) - margin
    for placement, (depth, width, _) in obstacles:
        yaw = math.radians(placement.yaw_deg)
        dx, dy = x - placement.center[0], y - placement.center[1]
        local_x = abs(math.cos(yaw) * dx + math.sin(yaw) * dy) - depth * placement.scale / 2
        local_y = abs(-math.sin(yaw) * dx + math.cos(yaw) * dy) - width * placement.scale / 2
        outside = math.hypot(max(local_x, 0.0), max(local_y, 0.0))
        clear = min(clear, outside if outside > 0 else max(local_x, local_y))
    return clear


# ------------------------------------------------------------------------------------------------------- scene


def structure(house: House) -> tuple:
    """What the compiled model depends on: rooms and each thing's id, kind and looks (not its state or place)."""
    rooms = tuple((r.name, r.kind, r.x0, r.y0, r.x1, r.y1) for r in house.rooms)
    things = tuple(
        (t.id, t.type, t.shape, tuple(t.size_m), t.color, t.material, t.openable, t.receptacle, t.toggleable,
         t.sliceable)
        for t in house.things.values()
    )  # fmt: skip
    return rooms, things


class Scene:
    """One household's MuJoCo model and data, kept in step with a `House` and rendered on demand.

    Args:
        house: The state to build from (not kept: pass the current one to `sync`).
        renderer: A `Renderer` to draw with, normally the worker's (`mjrender.renderer_for(resources, backend)`).
            None: a private one is made on the first render (with `backend`) and closed by `close`.
        backend: The GL backend for a private renderer.
        width_px, height_px: The egocentric picture's size (EmbodiedBench: 500x500).
        top_px: The map's longer side.
        fovy_deg: The egocentric camera's vertical field of view.
        antialias: 4x multisampling (about 7 ms of CPU rendering a frame at 500x500; off for raw speed).
    """

    def __init__(
        self,
        house: House,
        renderer: Renderer | None = None,
        *,
        backend: str = "auto",
        width_px: int = 500,
        height_px: int = 500,
        top_px: int = 500,
        fovy_deg: float = FOVY_DEG,
        antialias: bool = True,
    ) -> None:
        self.width_px, self.height_px, self.top_px = int(width_px), int(height_px), int(top_px)
        self.fovy_deg = float(fovy_deg)
        self.antialias = antialias
        self.backend = backend
        self.rebuilds = 0
        self._renderer = renderer
        self._own_renderer = renderer is None
        self._house: House | None = None
        self._model: Any = None
        self._build(house)
        self.sync(house)

    # -- public

    @property
    def model(self) -> mujoco.MjModel:
        """The compiled model (the same object from sync to sync unless the house's things changed)."""
        return self._model

    @property
    def data(self) -> mujoco.MjData:
        return self._data

    def sync(self, house: House) -> None:
        """Move the scene to `house`'s state; recompiles only if the things themselves changed."""
        import mujoco

        if structure(house) != self._structure:
            self._build(house)
        self._house = house
        model, data = self._model, self._data
        where = placements(house)
        for thing_id, parts in self._parts.items():
            thing = house.things[thing_id]
            placement = where[thing_id]
            data.mocap_pos[parts.mocap] = placement.center
            data.mocap_quat[parts.mocap] = _yaw_quat(placement.yaw_deg)
            if parts.door_mocap is not None:
                pos, quat = _door_pose(thing, placement)
                data.mocap_pos[parts.door_mocap] = pos
                data.mocap_quat[parts.door_mocap] = quat
            if placement.scale != parts.scale:
                model.geom_size[parts.geoms] = parts.base_size * placement.scale
                model.geom_pos[parts.geoms] = parts.base_pos * placement.scale
                parts.scale = placement.scale
            if parts.slices:
                model.geom_group[parts.whole] = _HIDDEN if thing.is_sliced else _SEEN
                model.geom_group[parts.slices] = _SEEN if thing.is_sliced else _HIDDEN
            for flag, geoms in parts.flagged:
                model.geom_group[geoms] = _SEEN if getattr(thing, flag) else _HIDDEN
            if parts.glow_material is not None:
                model.mat_emission[parts.glow_material] = parts.glow if thing.is_on else 0.0
            if parts.light is not None:
                model.light_active[parts.light] = bool(thing.is_on)
        position, forward = eye(house)
        data.mocap_pos[self._agent_mocap] = (position[0], position[1], 0.05)
        data.mocap_quat[self._agent_mocap] = _yaw_quat(house.agent.pose[2])
        mujoco.mj_kinematics(model, data)
        mujoco.mj_camlight(model, data)
        self._segments = None

    def view(self, name: str = "rgb") -> View:
        """The camera of a view (`rgb`: egocentric, `top`: the map), as of the last sync: use `project` on it."""
        if name == "top":
            return self._top_view
        position, forward = eye(self._require_house())
        return View(tuple(position), tuple(forward), (0.0, 0.0, 1.0), self.width_px, self.height_px, self.fovy_deg,
                    near_m=0.05, far_m=60.0)  # fmt: skip

    def render(self, view: str = "rgb", *, boxes: bool = False, labels: bool = False) -> np.ndarray:
        """A new HxWx3 uint8 picture of the last synced state.

        Args:
            view: `rgb` (egocentric) or `top` (the map).
            boxes: Draw a labelled box around each thing seen (egocentric view only).
            labels: On the map, write each room's name at its centre.
        """
        if view not in ("rgb", "top"):
            raise ValueError(f"unknown view {view!r}: use 'rgb' or 'top'")
        camera = self.view(view)
        image = self._draw(camera, self._map_option if view == "top" else self._ego_option)
        if view == "rgb" and boxes:
            image = _draw_boxes(image, self.detections(), self._require_house())
        if view == "top" and labels:
            image = _draw_room_names(image, self._require_house().rooms, camera)
        return image

    def visible(self, house: House | None = None, min_pixels: int = _MIN_PIXELS) -> set[str]:
        """Ids of the things the egocentric view shows (syncing to `house` first when given).

        A thing counts when at least `min_pixels` pixels of a half-resolution segmentation image are its own (a
        door counts for its receptacle), so a thing behind a closed door or a wall is not visible, whatever the
        state's flags say.
        """
        if house is not None:
            self.sync(house)
        return {thing_id for thing_id, count in self._pixel_counts().items() if count >= min_pixels}

    def detections(self, min_pixels: int = _MIN_PIXELS) -> dict[str, tuple[int, int, int, int]]:
        """Boxes (left, top, right, bottom in egocentric-picture pixels) of the things seen, by id."""
        segments, scale = self._segmentation()
        labels = self._thing_of_geom[segments] + 1  # 0: no thing
        height, width = labels.shape
        count = len(self._thing_ids) + 1
        # Which rows and columns each thing occupies, in two scatters instead of a pass over the image per thing.
        in_row = np.zeros((count, height), dtype=bool)
        in_row[labels, np.arange(height)[:, None]] = True
        in_column = np.zeros((count, width), dtype=bool)
        in_column[labels, np.arange(width)[None, :]] = True
        pixels = np.bincount(labels.ravel(), minlength=count)
        found: dict[str, tuple[int, int, int, int]] = {}
        for label in np.flatnonzero(pixels[1:] >= min_pixels) + 1:
            rows, columns = np.flatnonzero(in_row[label]), np.flatnonzero(in_column[label])
            right = min((columns[-1] + 1) * scale, self.width_px) - 1
            bottom = min((rows[-1] + 1) * scale, self.height_px) - 1
            found[self._thing_ids[label - 1]] = (int(columns[0] * scale), int(rows[0] * scale), int(right), int(bottom))
        return found

    def close(self) -> None:
        """Free the model's GL side; close the renderer if the scene made it."""
        if self._renderer is not None:
            if self._own_renderer:
                self._renderer.close()
                self._renderer = None
            else:
                self._renderer.forget(self._model)

    def __enter__(self) -> Scene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- rendering internals

    def _require_house(self) -> House:
        if self._house is None:
            raise RuntimeError("Scene.sync has not run")
        return self._house

    def _draw(self, camera: View, option: Any, segmentation: bool = False) -> np.ndarray:
        if self._renderer is None:
            self._renderer = renderer_for(None, self.backend, self.width_px, self.height_px)
            if self._renderer is None:
                raise ValueError("a Scene with backend 'none' cannot render")
        return self._renderer.render(self._model, self._data, camera, option=option, segmentation=segmentation)

    def _segmentation(self) -> tuple[np.ndarray, float]:
        """The egocentric segmentation at half resolution (a fifth of a colour frame's cost), cached per sync."""
        if self._segments is None:
            camera = self.view("rgb")
            small = replace(camera, width_px=max(1, self.width_px // 2), height_px=max(1, self.height_px // 2))
            self._segments = self._draw(small, self._ego_option, segmentation=True)
        return self._segments, self.width_px / self._segments.shape[1]

    def _pixel_counts(self) -> dict[str, int]:
        segments, _ = self._segmentation()
        counts = np.bincount(self._thing_of_geom[segments].ravel() + 1, minlength=len(self._thing_ids) + 1)
        return {self._thing_ids[index]: int(count) for index, count in enumerate(counts[1:]) if count}

    # -- building

    def _build(self, house: House) -> None:
        import mujoco

        if self._model is not None:
            self.rebuilds += 1
            if self._renderer is not None:
                self._renderer.forget(self._model)
        spec = mujoco.MjSpec()
        spec.modelname = "household"
        _configure(spec, self.width_px, self.height_px, self.top_px, self.antialias)
        builder = _Builder(spec)
        builder.rooms(house.rooms)
        parts_by_id: dict[str, _Parts] = {}
        for thing in house.things.values():
            parts_by_id[thing.id] = builder.thing(thing)
        builder.agent_arrow()
        model = spec.compile()
        data = mujoco.MjData(model)
        self._thing_ids = list(house.things)
        index_of = {thing_id: index for index, thing_id in enumerate(self._thing_ids)}
        body_thing = np.full(model.nbody, -1, dtype=np.int32)
        for thing_id, parts in parts_by_id.items():
            for body_name in parts.bodies:
                body_thing[model.body(body_name).id] = index_of[thing_id]
        self._thing_of_geom = np.append(body_thing[model.geom_bodyid], -1).astype(np.int32)  # [-1] for background
        for parts in parts_by_id.values():
            parts.resolve(model)
        self._parts = parts_by_id
        self._agent_mocap = int(model.body_mocapid[model.body("agent").id])
        self._model, self._data = model, data
        self._structure = structure(house)
        self._ego_option = _option(_SEEN, _EGO_ONLY)
        self._map_option = _option(_SEEN, _MAP_ONLY)
        self._top_view = _map_view(house.rooms, list(placements(house).values()), self.top_px)
        self._segments = None


def _configure(spec: Any, width: int, height: int, top: int, antialias: bool) -> None:
    visual = spec.visual
    visual.global_.offwidth = max(width, top)
    visual.global_.offheight = max(height, top)
    visual.quality.offsamples = 4 if antialias else 0
    visual.quality.shadowsize = 256  # shadows are off; MuJoCo's 4096 default makes each new context cost 38 ms
    visual.headlight.ambient = (0.3, 0.3, 0.3)
    visual.headlight.diffuse = (0.4, 0.4, 0.4)
    visual.headlight.specular = (0.05, 0.05, 0.05)
    spec.stat.extent = 10.0
    spec.stat.center = (0.0, 0.0, 1.0)
    spec.worldbody.add_light(name="sky", type=_directional_light(), pos=(0, 0, 10), dir=(0.25, 0.35, -1.0),
                             diffuse=(0.35, 0.35, 0.35), specular=(0.1, 0.1, 0.1), castshadow=False)  # fmt: skip


def _directional_light() -> Any:
    import mujoco

    return mujoco.mjtLightType.mjLIGHT_DIRECTIONAL


def _option(*groups: int) -> Any:
    import mujoco

    option = mujoco.MjvOption()
    option.geomgroup[:] = 0
    for group in groups:
        option.geomgroup[group] = 1
    return option


def _map_view(rooms: list[Room], where: list[Placement], size_px: int) -> View:
    """An orthographic camera above the home's middle, framing every room (or every thing, without rooms)."""
    if rooms:
        x0, y0 = min(r.x0 for r in rooms), min(r.y0 for r in rooms)
        x1, y1 = max(r.x1 for r in rooms), max(r.y1 for r in rooms)
    elif where:
        xs, ys = [p.center[0] for p in where], [p.center[1] for p in where]
        x0, y0, x1, y1 = min(xs) - 1, min(ys) - 1, max(xs) + 1, max(ys) + 1
    else:
        x0 = y0 = -1.0
        x1 = y1 = 1.0
    span_x, span_y = x1 - x0 + 0.6, y1 - y0 + 0.6
    width_px, height_px = (size_px, max(16, round(size_px * span_y / span_x))) if span_x >= span_y else (
        max(16, round(size_px * span_x / span_y)), size_px)  # fmt: skip
    ortho = max(span_y, span_x * height_px / width_px)
    centre = ((x0 + x1) / 2, (y0 + y1) / 2, 30.0)
    return View(centre, (0.0, 0.0, -1.0), (0.0, 1.0, 0.0), width_px, height_px, ortho_height_m=ortho,
                near_m=1.0, far_m=40.0)  # fmt: skip


def _yaw_quat(yaw_deg: float) -> tuple[float, float, float, float]:
    half = math.radians(yaw_deg) / 2
    return (math.cos(half), 0.0, 0.0, math.sin(half))


def _quat_mul(a: tuple, b: tuple) -> tuple[float, float, float, float]:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return (
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    )


def _door_pose(thing: Thing, placement: Placement) -> tuple[tuple[float, float, float], tuple]:
    """World pose of a receptacle's door body (whose origin is its hinge), closed or swung open."""
    depth, width, height = (side * placement.scale for side in extents(thing))
    if thing.type in LIDDED:
        hinge, axis = (-depth / 2, 0.0, height / 2), (0.0, 1.0, 0.0)
        angle = -_DOOR_OPEN_DEG
    elif thing.type in SLIDING:  # the tray's origin is the case's centre; it slides forward, unturned
        hinge, axis, angle = (_slide(thing, placement.scale), 0.0, 0.0), (0.0, 0.0, 1.0), 0.0
    else:
        hinge, axis = (depth / 2, width / 2, 0.0), (0.0, 0.0, 1.0)
        angle = _DOOR_OPEN_DEG
    yaw = math.radians(placement.yaw_deg)
    hx = placement.center[0] + math.cos(yaw) * hinge[0] - math.sin(yaw) * hinge[1]
    hy = placement.center[1] + math.sin(yaw) * hinge[0] + math.cos(yaw) * hinge[1]
    hz = placement.center[2] + hinge[2]
    quat = _yaw_quat(placement.yaw_deg)
    if thing.is_open:
        half = math.radians(angle) / 2
        quat = _quat_mul(quat, (math.cos(half), *(math.sin(half) * a for a in axis)))
    return (hx, hy, hz), quat


def _slide(host: Thing, scale: float = 1.0) -> float:
    """How far an open drawer's tray (and what is in it) stands out of its case."""
    return 0.7 * extents(host)[0] * scale if host.type in SLIDING and host.is_open else 0.0


# ----------------------------------------------------------------------------------------------------- builder


class _Parts:
    """A thing's pieces in the compiled model, and the base sizes that scaling starts from."""

    def __init__(self, body: str, door: str | None) -> None:
        self.bodies = [body] + ([door] if door else [])
        self.body, self.door = body, door
        self.whole: list[int] = []
        self.slices: list[int] = []
        self.glow_material: int | None = None
        self.glow = 0.0
        self.light: int | None = None
        self.scale = 1.0
        self.flagged: list[tuple[str, list[int]]] = []  # (Thing flag, geoms shown only while it is true)
        self._whole_names: list[str] = []
        self._slice_names: list[str] = []
        self._flagged_names: dict[str, list[str]] = {}
        self._material: str | None = None
        self._light: str | None = None

    def resolve(self, model: Any) -> None:
        self.mocap = int(model.body_mocapid[model.body(self.body).id])
        self.door_mocap = int(model.body_mocapid[model.body(self.door).id]) if self.door else None
        body_ids = [model.body(name).id for name in self.bodies]
        self.geoms = np.flatnonzero(np.isin(model.geom_bodyid, body_ids))
        self.base_size = model.geom_size[self.geoms].copy()
        self.base_pos = model.geom_pos[self.geoms].copy()
        self.whole = [model.geom(name).id for name in self._whole_names]
        self.slices = [model.geom(name).id for name in self._slice_names]
        self.flagged = [(flag, [model.geom(name).id for name in names]) for flag, names in self._flagged_names.items()]
        if self._material:
            self.glow_material = model.material(self._material).id
        if self._light:
            self.light = model.light(self._light).id


class _Builder:
    """Adds rooms and things to an MjSpec; shares one material per (colour, material) pair."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.materials: set[str] = set()
        self.count = 0
        self.things = 0

    def material(self, color: str, material: str, unique: str | None = None) -> str:
        name = unique or f"{color}/{material}"
        if name not in self.materials:
            self.materials.add(name)
            look = MATERIALS.get(material, MATERIALS["plastic"])
            red, green, blue, alpha = COLORS.get(color, COLORS["gray"])
            self.spec.add_material(name=name, rgba=(red, green, blue, alpha * look["alpha"]),
                                   specular=look["specular"], shininess=look["shininess"])  # fmt: skip
        return name

    def flat(self, name: str, rgba: tuple) -> str:
        if name not in self.materials:
            self.materials.add(name)
            self.spec.add_material(name=name, rgba=rgba, specular=0.05, shininess=0.1)
        return name

    def geom(self, body: Any, kind: str, size: Iterable[float], pos=(0.0, 0.0, 0.0), material: str = "",
             group: int = _SEEN, name: str | None = None, quat=(1.0, 0.0, 0.0, 0.0)) -> Any:  # fmt: skip
        import mujoco

        types = {
            "box": mujoco.mjtGeom.mjGEOM_BOX, "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
            "sphere": mujoco.mjtGeom.mjGEOM_SPHERE, "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
            "ellipsoid": mujoco.mjtGeom.mjGEOM_ELLIPSOID,
        }  # fmt: skip
        self.count += 1
        return body.add_geom(name=name or f"g{self.count}", type=types[kind], size=list(size), pos=list(pos),
                             quat=list(quat), material=material, group=group, contype=0, conaffinity=0)  # fmt: skip

    # -- rooms

    def rooms(self, rooms: list[Room]) -> None:
        world = self.spec.worldbody
        for index, room in enumerate(rooms):
            floor = self.flat(f"floor/{room.kind}", FLOOR_RGBA.get(room.kind, _DEFAULT_FLOOR))
            half_x, half_y = (room.x1 - room.x0) / 2, (room.y1 - room.y0) / 2
            centre = ((room.x0 + room.x1) / 2, (room.y0 + room.y1) / 2)
            self.geom(world, "box", (half_x, half_y, 0.01), (*centre, -0.01), floor, name=f"floor{index}")
            ceiling = self.flat("ceiling", (0.96, 0.96, 0.94, 1.0))
            self.geom(world, "box", (half_x, half_y, 0.01), (*centre, WALL_HEIGHT_M + 0.01), ceiling, _EGO_ONLY)
        for (axis, line, low, high), kind in _walls(rooms):
            wall = self.flat(f"wall/{kind}", WALL_RGBA.get(kind, (0.88, 0.88, 0.88, 1.0)))
            middle, half = (low + high) / 2, (high - low) / 2
            if axis == "x":  # a wall at x = line, running along y
                size, pos = (WALL_THICKNESS_M / 2, half, WALL_HEIGHT_M / 2), (line, middle, WALL_HEIGHT_M / 2)
            else:
                size, pos = (half, WALL_THICKNESS_M / 2, WALL_HEIGHT_M / 2), (middle, line, WALL_HEIGHT_M / 2)
            self.geom(world, "box", size, pos, wall)

    def agent_arrow(self) -> None:
        body = self.spec.worldbody.add_body(name="agent", mocap=True)
        red = self.flat("agent", (0.9, 0.1, 0.1, 1.0))
        self.geom(body, "cylinder", (0.22, 0.04), material=red, group=_MAP_ONLY)
        self.geom(body, "box", (0.22, 0.05, 0.05), (0.25, 0.0, 0.03), red, _MAP_ONLY)

    # -- things

    def thing(self, thing: Thing) -> _Parts:
        number = self.things
        self.things += 1
        body_name = f"thing{number}"
        openable_box = thing.openable and thing.receptacle
        parts = _Parts(body_name, f"door{number}" if openable_box else None)
        body = self.spec.worldbody.add_body(name=body_name, mocap=True)
        glowing = thing.toggleable and not thing.type.endswith("Lamp") and thing.type not in RUNNING_WATER
        material = self.material(thing.color, thing.material, f"own/{thing.id}" if glowing else None)
        if glowing:
            parts._material, parts.glow = material, 0.45
        depth, width, height = extents(thing)
        if openable_box:
            self._shell(body, thing, material, parts)
        elif thing.receptacle and thing.type in BASINS:
            self._basin(body, thing, material)
        elif thing.receptacle and thing.type in TABLES:
            self._table(body, thing, material)
        elif thing.type.endswith("Lamp"):
            self._lamp(body, thing, material, parts)
        else:
            whole = self._shape(body, thing.shape, (depth, width, height), material, name=f"{body_name}/whole")
            if thing.sliceable:
                parts._whole_names.append(whole.name)
                parts._slice_names += self._slices(body, thing, material)
        if thing.pickable:
            parts._flagged_names["is_dirty"] = self._stains(body, thing)
        if thing.type in RUNNING_WATER:
            parts._flagged_names["is_on"] = [self._water(body, thing).name]
        return parts

    def _stains(self, body: Any, thing: Thing) -> list[str]:
        """Dark smears on the thing's top, shown while it is dirty (AI2-THOR draws dirt as stains too)."""
        depth, width, height = extents(thing)
        top = min(extents(thing)) / 2 if thing.shape == "sphere" else height / 2
        if thing.shape in ("cylinder", "capsule") and max(depth, width) > 1.2 * height:
            top = min(depth, width, height) / 2  # lying down
        dirt = self.flat("dirt", (0.33, 0.22, 0.1, 1.0))
        return [
            self.geom(body, "ellipsoid", (0.22 * depth, 0.18 * width, 0.004), (sx * 0.15 * depth, sy * 0.12 * width,
                      top), dirt, _HIDDEN).name
            for sx, sy in ((1, 1), (-1, -0.5))
        ]  # fmt: skip

    def _water(self, body: Any, thing: Thing) -> Any:
        """A stream falling from the spout, shown while the faucet runs."""
        depth, width, height = extents(thing)
        water = self.flat("water", (0.55, 0.75, 0.95, 0.8))
        return self.geom(body, "cylinder", (0.012, 0.14), (depth / 2 + 0.02, 0, -height / 2 - 0.1), water, _HIDDEN)

    def _shape(self, body: Any, shape: str, box: tuple[float, float, float], material: str, pos=(0.0, 0.0, 0.0),
               group: int = _SEEN, name: str | None = None) -> Any:  # fmt: skip
        depth, width, height = box
        if shape in ("cylinder", "capsule"):
            # The axis runs along the longest side: a pencil lies down, a bottle stands.
            axis = int(np.argmax(box)) if max(box) > 1.2 * box[2] else 2
            quat = {0: (_HALF, 0.0, _HALF, 0.0), 1: (_HALF, -_HALF, 0.0, 0.0), 2: (1.0, 0.0, 0.0, 0.0)}[axis]
            across = [side for index, side in enumerate(box) if index != axis]
            radius, half_length = min(across) / 2, box[axis] / 2
            if shape == "capsule":
                half_length = max(half_length - radius, 0.001)
            return self.geom(body, shape, (radius, half_length), pos, material, group, name, quat)
        if shape == "sphere":
            return self.geom(body, "sphere", (min(box) / 2,), pos, material, group, name)
        if shape == "ellipsoid":
            return self.geom(body, "ellipsoid", (depth / 2, width / 2, height / 2), pos, material, group, name)
        return self.geom(body, "box", (depth / 2, width / 2, height / 2), pos, material, group, name)

    def _slices(self, body: Any, thing: Thing, material: str) -> list[str]:
        """Three slices with gaps between them, hidden until the thing is sliced."""
        depth, width, height = extents(thing)
        names = []
        gap = min(0.012, depth * 0.08)
        if thing.shape == "cylinder" and height >= max(depth, width) / 1.2:  # a standing cylinder: stacked discs
            piece = (height - 2 * gap) / 3
            for index in range(3):
                z = -height / 2 + piece / 2 + index * (piece + gap)
                names.append(self._shape(body, "cylinder", (depth, width, piece), material, (0, 0, z), _HIDDEN).name)
            return names
        piece = (depth - 2 * gap) / 3
        kind = "box" if thing.shape == "box" else "ellipsoid"
        for index in range(3):
            x = -depth / 2 + piece / 2 + index * (piece + gap)
            names.append(self._shape(body, kind, (piece, width, height), material, (x, 0, 0), _HIDDEN).name)
        return names

    def _shell(self, body: Any, thing: Thing, material: str, parts: _Parts) -> None:
        """Walls round an inside, open at the front (or top, for a lid); the door is a body of its own."""
        depth, width, height = extents(thing)
        wall = wall_m(thing)
        lid = thing.type in LIDDED
        door = self.spec.worldbody.add_body(name=parts.door, mocap=True)
        handle = self.flat("handle", (0.2, 0.2, 0.22, 1.0))
        if thing.type in SLIDING:
            self._drawer(body, door, thing, material, handle)
            return
        slabs = [
            ((depth / 2, width / 2, wall / 2), (0, 0, -height / 2 + wall / 2)),  # bottom
            ((wall / 2, width / 2, height / 2), (-depth / 2 + wall / 2, 0, 0)),  # back
            ((depth / 2, wall / 2, height / 2), (0, width / 2 - wall / 2, 0)),  # sides
            ((depth / 2, wall / 2, height / 2), (0, -width / 2 + wall / 2, 0)),
        ]
        if lid:
            slabs.append(((wall / 2, width / 2, height / 2), (depth / 2 - wall / 2, 0, 0)))  # front
        else:
            slabs.append(((depth / 2, width / 2, wall / 2), (0, 0, height / 2 - wall / 2)))  # top
        for size, pos in slabs:
            self.geom(body, "box", size, pos, material)
        if lid:  # hinge on the back top edge; the lid runs forward from it
            self.geom(door, "box", (depth / 2, width / 2, wall / 2), (depth / 2, 0, -wall / 2), material)
            self.geom(door, "box", (0.012, min(0.06, width / 4), 0.012), (depth, 0, 0), handle)
        else:  # hinge on the front edge at +y; the door runs across the front towards -y
            self.geom(door, "box", (wall / 2, width / 2, height / 2), (-wall / 2, -width / 2, 0), material)
            self.geom(door, "box", (0.012, 0.012, min(0.12, height / 4)), (0.012, -width + 0.06, 0), handle)

    def _drawer(self, body: Any, tray: Any, thing: Thing, material: str, handle: str) -> None:
        """A case (top, back, sides) and a tray (bottom, front, low walls) that slides out of it."""
        depth, width, height = extents(thing)
        wall = wall_m(thing)
        self.geom(body, "box", (depth / 2, width / 2, wall / 2), (0, 0, height / 2 - wall / 2), material)
        self.geom(body, "box", (wall / 2, width / 2, height / 2), (-depth / 2 + wall / 2, 0, 0), material)
        for sign in (-1, 1):
            self.geom(body, "box", (depth / 2, wall / 2, height / 2), (0, sign * (width / 2 - wall / 2), 0), material)
        low = (height - wall) * 0.6
        self.geom(tray, "box", (depth / 2, width / 2, wall / 2), (0, 0, -height / 2 + wall / 2), material)
        self.geom(
            tray, "box", (wall / 2, width / 2, (height - wall) / 2), (depth / 2 - wall / 2, 0, -wall / 2), material
        )
        inner_y = width / 2 - 1.5 * wall
        self.geom(
            tray, "box", (wall / 2, inner_y, low / 2), (-depth / 2 + 1.5 * wall, 0, -height / 2 + low / 2), material
        )
        for sign in (-1, 1):
            pos = (0, sign * (inner_y - wall / 2), -height / 2 + low / 2)
            self.geom(tray, "box", (depth / 2 - wall, wall / 2, low / 2), pos, material)
        self.geom(tray, "box", (0.012, min(0.08, width / 4), 0.012), (depth / 2 + 0.012, 0, height * 0.15), handle)

    def _basin(self, body: Any, thing: Thing, material: str) -> None:
        depth, width, height = extents(thing)
        wall = wall_m(thing)
        self.geom(body, "box", (depth / 2, width / 2, wall / 2), (0, 0, -height / 2 + wall / 2), material)
        for sign in (-1, 1):
            self.geom(body, "box", (wall / 2, width / 2, height / 2), (sign * (depth / 2 - wall / 2), 0, 0), material)
            self.geom(body, "box", (depth / 2, wall / 2, height / 2), (0, sign * (width / 2 - wall / 2), 0), material)

    def _table(self, body: Any, thing: Thing, material: str) -> None:
        depth, width, height = extents(thing)
        top = min(0.05, height * 0.1)
        self.geom(body, "box", (depth / 2, width / 2, top / 2), (0, 0, height / 2 - top / 2), material)
        leg = min(0.04, depth / 8, width / 8)
        for sx in (-1, 1):
            for sy in (-1, 1):
                pos = (sx * (depth / 2 - leg), sy * (width / 2 - leg), -top / 2)
                self.geom(body, "box", (leg / 2, leg / 2, (height - top) / 2), pos, material)

    def _lamp(self, body: Any, thing: Thing, material: str, parts: _Parts) -> None:
        """A base, a stem and a shade in the lamp's colour, and a bulb that glows (and lights the room) when on."""
        depth, width, height = extents(thing)
        radius = min(depth, width) / 2
        self.geom(body, "cylinder", (radius * 0.8, 0.015), (0, 0, -height / 2 + 0.015), material)
        self.geom(body, "cylinder", (max(0.01, radius * 0.12), height * 0.35), (0, 0, -height * 0.1), material)
        shade_h = height * 0.2
        self.geom(body, "cylinder", (radius, shade_h / 2), (0, 0, height / 2 - shade_h / 2), material)
        bulb = self.spec.add_material(name=f"bulb/{thing.id}", rgba=(1.0, 0.95, 0.7, 1.0), specular=0.2)
        self.materials.add(bulb.name)
        parts._material, parts.glow = bulb.name, 0.9
        self.geom(body, "sphere", (radius * 0.5,), (0, 0, height / 2 - shade_h - radius * 0.3), bulb.name)
        light = body.add_light(name=f"lamp/{thing.id}", pos=(0, 0, height / 2 - shade_h), diffuse=(0.6, 0.55, 0.4),
                               specular=(0.1, 0.1, 0.1), attenuation=(1.0, 0.0, 0.35), castshadow=False)  # fmt: skip
        light.active = False
        parts._light = light.name


def _walls(rooms: list[Room]) -> list[tuple[tuple[str, float, float, float], str]]:
    """Wall segments (axis, line, from, to) with the kind of room they belong to, gaps left for doorways.

    Each room's four edges are walls; where two rooms share a stretch of edge, that stretch is built once, with a
    doorway in its middle when it is long enough to walk through.
    """
    edges: list[tuple[str, float, float, float, int, int]] = []  # axis, line, low, high, side (+1/-1), room index
    for index, room in enumerate(rooms):
        edges += [
            ("x", room.x0, room.y0, room.y1, -1, index), ("x", room.x1, room.y0, room.y1, 1, index),
            ("y", room.y0, room.x0, room.x1, -1, index), ("y", room.y1, room.x0, room.x1, 1, index),
        ]  # fmt: skip
    pieces = []
    for axis, line, low, high, side, index in edges:
        cuts: list[tuple[float, float]] = []
        for o_axis, o_line, o_low, o_high, o_side, o_index in edges:
            if o_index == index or o_axis != axis or abs(o_line - line) > 0.05 or o_side == side:
                continue
            start, end = max(low, o_low), min(high, o_high)
            if end <= start:
                continue
            if o_index < index:  # the shared stretch is built by the other room
                cuts.append((start, end))
            elif end - start >= DOORWAY_M + 0.4:
                middle = (start + end) / 2
                cuts.append((middle - DOORWAY_M / 2, middle + DOORWAY_M / 2))
        for start, end in _subtract((low - WALL_THICKNESS_M / 2, high + WALL_THICKNESS_M / 2), cuts):
            if end - start > 0.02:
                pieces.append(((axis, line, start, end), rooms[index].kind))
    return pieces


def _subtract(span: tuple[float, float], cuts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    left = [span]
    for cut_low, cut_high in sorted(cuts):
        kept = []
        for low, high in left:
            if cut_high <= low or cut_low >= high:
                kept.append((low, high))
                continue
            if cut_low > low:
                kept.append((low, cut_low))
            if cut_high < high:
                kept.append((cut_high, high))
        left = kept
    return left


# ------------------------------------------------------------------------------------------------------ drawing


def _draw_boxes(image: np.ndarray, boxes: dict[str, tuple[int, int, int, int]], house: House) -> np.ndarray:
    """Rectangles with the thing's name above them, as EmbodiedBench's detection boxes."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    for thing_id in sorted(boxes, key=lambda key: house.things[key].name):
        left, top, right, bottom = boxes[thing_id]
        draw.rectangle((left, top, right, bottom), outline=(40, 255, 40), width=2)
        label = house.things[thing_id].name
        text_box = draw.textbbox((left + 2, max(0, top - 12)), label)
        draw.rectangle(text_box, fill=(40, 255, 40))
        draw.text((left + 2, max(0, top - 12)), label, fill=(0, 0, 0))
    return np.asarray(picture).copy()


def _draw_room_names(image: np.ndarray, rooms: list[Room], camera: View) -> np.ndarray:
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    for room in rooms:
        spot = camera.project(((room.x0 + room.x1) / 2, (room.y0 + room.y1) / 2, 0.0))
        if spot is not None:
            box = draw.textbbox(spot, room.name, anchor="mm")
            draw.rectangle(box, fill=(255, 255, 255))
            draw.text(spot, room.name, fill=(0, 0, 0), anchor="mm")
    return np.asarray(picture).copy()
