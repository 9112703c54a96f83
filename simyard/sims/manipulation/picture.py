"""The front camera's picture with EB-Manipulation's aids: the XYZ axes at the table corner and numbered boxes.

EB-Manipulation draws, on its `front_rgb` frame, a red dot with X (red), Y (green) and Z (blue) arrows at the table's
far-left corner, and a red box numbered 1..N round each object of its object list (the number is the object's place
in that list, sorted by Y). Its boxes come from a YOLO detector matched to the projected object centres; here each
box is the projection of the thing's own bounding box, grown by EB's factor 1.2, so a box is always where its object
is. The arrows are projections of 15 cm along each world axis, so they point the way the coordinates grow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from simyard.sims.manipulation import discrete, scene
from simyard.sims.mjrender import View

#: The front camera: in front of the table, looking back at the robot (image right = +y, up = +z).
CAMERA_POS = (1.05, 0.0, 1.62)
CAMERA_TARGET = (0.0, 0.0, 0.8)
FOVY_DEG = 52.0
#: Where the axes start: the table's far-left corner as the camera sees it (x = EB's lower bound, y = -0.45).
AXES_ORIGIN = (discrete.SCENE_BOUNDS[0] + 0.02, -0.45, scene.TABLE_TOP_M)
AXIS_LENGTH_M = 0.15
BOX_GROWTH = 1.2
_RED, _GREEN, _BLUE = (230, 20, 20), (20, 200, 20), (30, 60, 255)


def front_view(size_px: int) -> View:
    forward = np.subtract(CAMERA_TARGET, CAMERA_POS)
    return View(CAMERA_POS, tuple(forward / np.linalg.norm(forward)), (0.0, 0.0, 1.0), size_px, size_px, FOVY_DEG,
                near_m=0.05, far_m=10.0)  # fmt: skip


def box_corners(centre: Sequence[float], half: Sequence[float], yaw_deg: float) -> np.ndarray:
    """The 8 corners of a box standing upright, turned by `yaw_deg` about its vertical axis."""
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    corners = []
    for u in (-half[0], half[0]):
        for v in (-half[1], half[1]):
            for w in (-half[2], half[2]):
                corners.append((centre[0] + c * u - s * v, centre[1] + s * u + c * v, centre[2] + w))
    return np.array(corners)


def project_box(view: View, corners: np.ndarray) -> tuple[int, int, int, int] | None:
    """The picture rectangle (left, top, right, bottom) holding the corners, grown by EB's 1.2; None if unseen."""
    points = [view.project(corner) for corner in corners]
    seen = [point for point in points if point is not None]
    if not seen:
        return None
    xs, ys = [p[0] for p in seen], [p[1] for p in seen]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    half_w, half_h = (max(xs) - min(xs)) / 2 * BOX_GROWTH, (max(ys) - min(ys)) / 2 * BOX_GROWTH
    return (int(cx - half_w), int(cy - half_h), int(cx + half_w), int(cy + half_h))


def axes_pixels(view: View) -> dict[str, tuple[float, float] | None]:
    """Where the origin and the arrow tips land: `origin`, `x`, `y`, `z`."""
    origin = np.array(AXES_ORIGIN)
    found = {"origin": view.project(origin)}
    for index, name in enumerate("xyz"):
        tip = origin.copy()
        tip[index] += AXIS_LENGTH_M
        found[name] = view.project(tip)
    return found


def annotate(image: np.ndarray, view: View, boxes: list[tuple[int, int, int, int] | None], axes: bool = True
             ) -> np.ndarray:  # fmt: skip
    """A copy of `image` with the axes and the numbered boxes (box i is labelled i + 1) drawn on it."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    scale = max(1, round(view.width_px / 500))
    if axes:
        where = axes_pixels(view)
        origin = where["origin"]
        if origin is not None:
            for name, colour in (("x", _RED), ("y", _GREEN), ("z", _BLUE)):
                tip = where[name]
                if tip is not None:
                    _arrow(draw, origin, tip, colour, 2 * scale)
                    draw.text((tip[0] + 3, tip[1] - 12), name, fill=colour)
            r = 3 * scale
            draw.ellipse((origin[0] - r, origin[1] - r, origin[0] + r, origin[1] + r), fill=_RED)
            draw.text((origin[0] + 2, origin[1] + 6), "(0, 0)", fill=_RED)
    for number, box in enumerate(boxes, start=1):
        if box is None:
            continue
        left, top, right, bottom = box
        draw.rectangle((left, top, right, bottom), outline=_RED, width=scale)
        draw.text((min(left + 4, view.width_px - 12), max(0, top - 12)), str(number), fill=_RED)
    return np.asarray(picture).copy()


def _arrow(draw, start: tuple[float, float], end: tuple[float, float], colour: tuple[int, int, int], width: int
           ) -> None:  # fmt: skip
    draw.line((start, end), fill=colour, width=width)
    angle = math.atan2(end[1] - start[1], end[0] - start[0])
    head = 7.0
    for turn in (2.6, -2.6):
        draw.line((end, (end[0] + head * math.cos(angle + turn), end[1] + head * math.sin(angle + turn))),
                  fill=colour, width=width)  # fmt: skip
