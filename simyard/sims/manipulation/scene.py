"""The tabletop model: table, Panda and a fixed set of slots for things, compiled once per process.

Compiling the model (the Panda's meshes, convex hulls) costs about 0.2 s, so it is not rebuilt per task. Instead
the model holds slots: four of each graspable shape (free bodies, each with an inactive weld to the hand used for
grasping), two containers, a shape sorter, a sponge and two of each wiping area (mocap bodies, or free for the
sponge). A world copies the compiled model (a memcpy) and `Tabletop.arrange` puts a task's things into slots,
colours them, and parks the unused ones below the floor with collisions and gravity switched off, so they cost
nothing and are never seen.

Coordinates are EB-Manipulation's world frame: the table top is at z = 0.752 m (RLBench's table), the Panda's base
at (-0.3, 0, 0.752) where EB's workspace begins, x away from the robot towards the front camera, y to its left
(the camera's right), z up.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from simyard.sims.manipulation import panda, shapes

TABLE_TOP_M = 0.752
BASE_POS = (-0.3, 0.0, TABLE_TOP_M)
#: The table's extent (x from, x to, y half width).
TABLE_X_M, TABLE_HALF_Y_M = (-0.45, 0.75), 0.6
PARK_Z_M = -1.0
TIMESTEP_S = 0.002
_OBJ = f'contype="{panda.OBJECT_BIT}" conaffinity="{panda.TABLE_BIT | panda.OBJECT_BIT}"'
_FRICTION = 'friction="1.2 0.01 0.0002" condim="4"'
_VISUAL = 'contype="0" conaffinity="0"'


@dataclass(frozen=True, slots=True)
class Placed:
    """One thing of a task in its slot: what it is and where it stands."""

    id: str
    kind: str
    color: str
    slot: str


def slot_names() -> dict[str, list[str]]:
    """Slot body names by kind."""
    names = {kind: [f"{kind}{i}" for i in range(shapes.SLOTS_PER_KIND)] for kind in shapes.OBJECT_KINDS}
    for kind, count in shapes.FITTINGS.items():
        names[kind] = [f"{kind}{i}" for i in range(count)]
    for kind in shapes.AREA_KINDS:
        names[kind] = [f"{kind}{i}" for i in range(shapes.AREAS_PER_KIND)]
    return names


def _object_body(kind: str, name: str, index: int) -> str:
    park = f"{index * 0.2:.2f} 2 {PARK_Z_M}"
    mass = f'mass="{shapes.OBJECT_MASS_KG}"'
    if kind == "cube":
        h = shapes.HALF_HEIGHT_M["cube"]
        geom = f'<geom type="box" size="{h} {h} {h}" {mass}'
    elif kind == "cylinder":
        geom = f'<geom type="cylinder" size="0.022 {shapes.HALF_HEIGHT_M["cylinder"]}" {mass}'
    elif kind == "sponge":
        geom = f'<geom type="box" size="0.035 0.02 {shapes.HALF_HEIGHT_M["sponge"]}" mass="0.03"'
    else:
        geom = f'<geom type="mesh" mesh="{kind}_mesh" {mass}'
    return (f'<body name="{name}" pos="{park}"><freejoint name="{name}"/>'
            f'{geom} name="{name}" {_OBJ} {_FRICTION} rgba="1 1 1 1"/></body>')  # fmt: skip


def _container_body(name: str, index: int) -> str:
    inner, wall, height = shapes.CONTAINER_INNER_M, shapes.CONTAINER_WALL_M, shapes.CONTAINER_HEIGHT_M
    half = inner / 2 + wall / 2
    slab_z = height / 2
    parts = [f'<geom name="{name}_bottom" type="box" size="{inner / 2 + wall} {inner / 2 + wall} 0.003" '
             f'pos="0 0 0.003" {_OBJ} rgba="1 1 1 1"/>']  # fmt: skip
    for label, (x, y, sx, sy) in {
        "n": (half, 0, wall / 2, inner / 2 + wall),
        "s": (-half, 0, wall / 2, inner / 2 + wall),
        "e": (0, half, inner / 2, wall / 2),
        "w": (0, -half, inner / 2, wall / 2),
    }.items():
        parts.append(f'<geom name="{name}_{label}" type="box" size="{sx:g} {sy:g} {height / 2:g}" '
                     f'pos="{x:g} {y:g} {slab_z:g}" {_OBJ} rgba="1 1 1 1"/>')  # fmt: skip
    return f'<body name="{name}" mocap="true" pos="{index * 0.3:.2f} 3 {PARK_Z_M}">{"".join(parts)}</body>'


def _sorter_body(name: str) -> str:
    side, height = shapes.SORTER_SIDE_M, shapes.SORTER_HEIGHT_M
    plate, hole = shapes.SORTER_PLATE_M, shapes.SORTER_HOLE_M
    half, wall = side / 2, 0.01
    colour = 'rgba="0.85 0.55 0.2 1"'
    parts = []
    for label, (x, y, sx, sy) in {
        "n": (half - wall / 2, 0, wall / 2, half),
        "s": (-half + wall / 2, 0, wall / 2, half),
        "e": (0, half - wall / 2, half, wall / 2),
        "w": (0, -half + wall / 2, half, wall / 2),
    }.items():
        parts.append(f'<geom name="{name}_{label}" type="box" size="{sx:g} {sy:g} {height / 2:g}" '
                     f'pos="{x:g} {y:g} {height / 2:g}" {_OBJ} {colour}/>')  # fmt: skip
    # The top plate: four slabs round the square hole in the middle.
    rim = (side - hole) / 4
    top = height - plate / 2
    for label, (x, y, sx, sy) in {
        "tn": (hole / 2 + rim, 0, rim, half),
        "ts": (-hole / 2 - rim, 0, rim, half),
        "te": (0, hole / 2 + rim, hole / 2, rim),
        "tw": (0, -hole / 2 - rim, hole / 2, rim),
    }.items():
        parts.append(f'<geom name="{name}_{label}" type="box" size="{sx:g} {sy:g} {plate / 2:g}" '
                     f'pos="{x:g} {y:g} {top:g}" {_OBJ} {colour}/>')  # fmt: skip
    parts.append(f'<geom name="{name}_floor" type="box" size="{half} {half} 0.003" pos="0 0 0.003" {_OBJ} {colour}/>')
    # Decals: a star round the hole and the other shapes' holes on the plate (drawn only).
    deco = f'{_VISUAL} rgba="0.15 0.1 0.05 1"'
    face = height + 0.0006
    corner = hole / 2 + rim
    parts.append(f'<geom type="mesh" mesh="decal_star_mesh" pos="0 0 {face:g}" {_VISUAL} rgba="0.95 0.85 0.3 0.35"/>')
    parts.append(f'<geom type="cylinder" size="0.018 0.0005" pos="{corner:g} {corner:g} {face:g}" {deco}/>')
    parts.append(f'<geom type="box" size="0.016 0.016 0.0005" pos="{-corner:g} {corner:g} {face:g}" {deco}/>')
    parts.append(f'<geom type="mesh" mesh="decal_triangle_mesh" pos="{corner:g} {-corner:g} {face:g}" {deco}/>')
    return f'<body name="{name}" mocap="true" pos="0 4 {PARK_Z_M}">{"".join(parts)}</body>'


def _area_body(kind: str, name: str, index: int) -> str:
    t = shapes.AREA_THICKNESS_M
    if kind == "rectangle_area":
        hx, hy = shapes.HALF_EXTENT_M[kind]
        geom = f'type="box" size="{hx} {hy} {t / 2}"'
    elif kind == "round_area":
        geom = f'type="cylinder" size="{shapes.HALF_EXTENT_M[kind][0]} {t / 2}"'
    else:
        geom = f'type="mesh" mesh="area_{kind.split("_")[0]}_mesh"'
    return (f'<body name="{name}" mocap="true" pos="{index * 0.3:.2f} 5 {PARK_Z_M}">'
            f'<geom name="{name}" {geom} pos="0 0 {t / 2}" {_VISUAL} rgba="1 1 1 1"/></body>')  # fmt: skip


def model_xml() -> tuple[str, dict[str, bytes]]:
    """The whole tabletop MJCF and its asset files."""
    robot_assets, robot_body, robot_actuators, files = panda.robot_assets(BASE_POS)
    bodies, welds = [], []
    for kind, names in slot_names().items():
        for index, name in enumerate(names):
            if kind in shapes.OBJECT_KINDS or kind == "sponge":
                bodies.append(_object_body(kind, name, index))
                welds.append(f'<weld name="hold_{name}" body1="panda0_link7" body2="{name}" active="false" '
                             'solref="0.01 1"/>')  # fmt: skip
            elif kind == "container":
                bodies.append(_container_body(name, index))
            elif kind == "sorter":
                bodies.append(_sorter_body(name))
            else:
                bodies.append(_area_body(kind, name, index))
    x0, x1 = TABLE_X_M
    table = (f'<geom name="table" type="box" pos="{(x0 + x1) / 2:g} 0 {TABLE_TOP_M - 0.02:g}" '
             f'size="{(x1 - x0) / 2:g} {TABLE_HALF_Y_M:g} 0.02" material="wood" contype="{panda.TABLE_BIT}" '
             f'conaffinity="{panda.OBJECT_BIT}"/>')  # fmt: skip
    legs = "".join(
        f'<geom type="box" size="0.03 0.03 {(TABLE_TOP_M - 0.04) / 2:g}" pos="{x:g} {y:g} '
        f'{(TABLE_TOP_M - 0.04) / 2:g}" material="wood_dark" {_VISUAL}/>'
        for x in (x0 + 0.05, x1 - 0.05)
        for y in (-TABLE_HALF_Y_M + 0.05, TABLE_HALF_Y_M - 0.05)
    )
    xml = f"""<mujoco model="eb_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP_S}" integrator="implicitfast" cone="elliptic" impratio="5" noslip_iterations="0"/>
  <size memory="8M"/>
  <visual>
    <global offwidth="500" offheight="500"/>
    <quality shadowsize="256" offsamples="4"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.45 0.45 0.45" specular="0.05 0.05 0.05"/>
  </visual>
  <asset>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.55 0.55 0.58" rgb2="0.5 0.5 0.53" width="64"
      height="64"/>
    <material name="floor" texture="floor" texrepeat="8 8"/>
    <material name="wood" rgba="0.78 0.66 0.5 1"/>
    <material name="wood_dark" rgba="0.45 0.35 0.25 1"/>
    {shapes.all_meshes()}
  </asset>
  {robot_assets}
  <worldbody>
    <light name="sun" pos="0.5 0.2 3" dir="-0.2 -0.1 -1" directional="true" diffuse="0.55 0.55 0.55"
      specular="0.1 0.1 0.1" castshadow="false"/>
    <geom name="floor" type="plane" size="4 4 0.1" material="floor" contype="0" conaffinity="0"/>
    {table}{legs}
    {robot_body}
    {"".join(bodies)}
  </worldbody>
  <equality>{"".join(welds)}</equality>
  {robot_actuators}
</mujoco>"""
    return xml, files


@cache
def compiled() -> Any:
    """The tabletop model, compiled once per process; worlds take copies (`copy.copy`)."""
    import mujoco

    xml, files = model_xml()
    return mujoco.MjModel.from_xml_string(xml, files)


def fresh_model() -> Any:
    """A private copy of the compiled model, which a world may change (colours, parking) freely."""
    return copy.copy(compiled())


def yaw_quat(yaw_deg: float) -> np.ndarray:
    half = math.radians(yaw_deg) / 2
    return np.array([math.cos(half), 0.0, 0.0, math.sin(half)])
