"""The Franka Panda: its MJCF and meshes from gymnasium-robotics' `kitchen_franka` assets, adapted for a tabletop.

gymnasium-robotics (MIT) ships the Panda of the Franka Kitchen (`envs/assets/kitchen_franka/franka_assets`, modified
from Vikash Kumar's `franka` model under the Apache License 2.0): seven arm joints with position servos, two slide
fingers, visual and collision meshes. The package is found with `importlib.util.find_spec`, never imported, so its
own dependencies (PettingZoo, Jinja2) are not loaded.

What is changed, and why:

* every arm body gets `gravcomp="1"`, so the position servos hold a pose without sagging under gravity (MuJoCo's
  Panda in Menagerie does the same); otherwise a 1 cm bin would be lost to tracking error;
* the arm's joints are less damped (100 -> 30 at the shoulder and elbow, 10 -> 3 at the wrist), so moving at 1 rad/s
  stays within the servos' force limits;
* the fingers are lighter and less damped (damping 100 -> 20, armature 5 -> 0.1), so a grasp closes in about 0.2 s
  of simulated time instead of a second;
* a `tip` site sits between the fingertips (0.245 m from link 7), oriented so its +z is the approach direction and
  its +y the fingers' closing axis: EB-Manipulation's actions place this point (RLBench's `Panda_tip`);
* collision classes: the arm touches objects but not itself or the table; the hand and fingers touch the table too.

Mesh files are handed to MuJoCo through its in-memory asset dict under flat names (`collision_link0.stl`), because
the dict is keyed by base name and the kitchen model has a visual and a collision mesh of each name.
"""

from __future__ import annotations

import importlib.util
import os
import xml.etree.ElementTree as ET
from functools import cache

import numpy as np

from simyard.platform.errors import MissingExtraError

#: Arm joint names in the kitchen model, base to wrist.
ARM_JOINTS = tuple(f"robot:panda0_joint{index}" for index in range(1, 8))
FINGER_JOINTS = ("robot:panda0_finger_joint1", "robot:panda0_finger_joint2")
#: Geoms of the hand and fingers (by body), which may also touch the table.
HAND_BODIES = ("panda0_link7", "panda0_leftfinger", "panda0_rightfinger")
FINGER_BODIES = ("panda0_leftfinger", "panda0_rightfinger")
#: Finger opening per finger when open (metres; the joint's upper limit).
FINGER_OPEN_M = 0.04
#: Where the tip sits along link 7's z axis (metres).
TIP_OFFSET_M = 0.245
#: Joint damping (N m s/rad) by class: the kitchen model's 100 and 10 would need more than the servos' force limits
#: (87 and 12 N m) to move at 1 rad/s, so the servos saturate and the tip leaves its path.
_ARM_DAMPING = {"panda_arm": "30", "panda_forearm": "3"}
#: Collision bits: the static table, movable objects, the robot.
TABLE_BIT, OBJECT_BIT, ROBOT_BIT = 1, 2, 4


def asset_dir() -> str:
    """The folder of the kitchen Panda's MJCF files and meshes.

    Raises:
        MissingExtraError: gymnasium-robotics is not installed.
    """
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            "the manipulation world needs the Franka Panda model shipped by gymnasium-robotics",
            hint="install it with: pip install 'simyard[manip]' (or pip install gymnasium-robotics)",
        )
    folder = os.path.join(spec.submodule_search_locations[0], "envs", "assets", "kitchen_franka", "franka_assets")
    if not os.path.isfile(os.path.join(folder, "chain.xml")):
        raise MissingExtraError(
            f"gymnasium-robotics is installed but has no kitchen_franka assets at {folder}",
            hint="reinstall it: pip install --force-reinstall gymnasium-robotics",
        )
    return folder


@cache
def robot_assets(base_pos: tuple[float, float, float]) -> tuple[str, str, str, dict[str, bytes]]:
    """(asset XML, worldbody XML, actuator XML, files) of the adapted Panda with its base at `base_pos`.

    The three XML fragments go inside `<mujoco>` (the first two inside `<asset>`/`<default>` and `<worldbody>`
    context as written); `files` is the asset dict for `MjModel.from_xml_string`. Cached per process: the meshes are
    about 7 MB to read.
    """
    folder = asset_dir()
    files: dict[str, bytes] = {}
    assets = ET.parse(os.path.join(folder, "assets.xml")).getroot()
    for compiler in list(assets.iter("compiler")):
        assets.remove(compiler)
    for option in list(assets.findall("option")) + list(assets.findall("size")):
        assets.remove(option)
    for mesh in assets.iter("mesh"):
        path = mesh.get("file", "")
        flat = path.replace("/", "_")
        with open(os.path.join(folder, "meshes", path), "rb") as handle:
            files[flat] = handle.read()
        mesh.set("file", flat)
    for default in assets.iter("default"):
        if default.get("class") == "panda_finger":
            for joint in default.findall("joint"):
                joint.set("damping", "20")
                joint.set("armature", "0.1")
            for geom in default.findall("geom"):
                geom.set("contype", str(ROBOT_BIT))
                geom.set("conaffinity", str(TABLE_BIT | OBJECT_BIT))
        if default.get("class") in _ARM_DAMPING:
            for joint in default.findall("joint"):
                joint.set("damping", _ARM_DAMPING[default.get("class", "")])
        if default.get("class") == "panda_col":
            for geom in default.findall("geom"):
                geom.set("contype", str(ROBOT_BIT))
                geom.set("conaffinity", str(OBJECT_BIT))
    chain = ET.parse(os.path.join(folder, "chain.xml")).getroot()
    for body in chain.iter("body"):
        body.set("gravcomp", "1")
        if body.get("name") == "panda0_link0":
            body.set("pos", " ".join(f"{v:g}" for v in base_pos))
        if body.get("name") == "panda0_link7":
            for geom in body.findall("geom"):
                if geom.get("class") == "panda_col":  # the hand's collision mesh also meets the table
                    geom.set("conaffinity", str(TABLE_BIT | OBJECT_BIT))
            ET.SubElement(body, "site", name="tip", pos=f"0 0 {TIP_OFFSET_M}", euler="0 0 -0.785398", size="0.004",
                          rgba="1 0 0 0", group="4")  # fmt: skip
    actuators = ET.parse(os.path.join(folder, "actuator.xml")).getroot()
    parts = []
    for section in (assets, chain, actuators):
        parts.append("".join(ET.tostring(child, encoding="unicode") for child in section))
    return parts[0], parts[1], parts[2], files


#: A comfortable start: the tip about 0.45 m above the table over the near workspace, pointing down.
HOME_QPOS = np.array([0.0, -0.55, 0.0, -2.35, 0.0, 0.25, 0.785])
