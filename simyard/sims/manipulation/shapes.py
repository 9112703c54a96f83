"""What stands on the tabletop: the kinds of things, their sizes, their meshes and EB-Manipulation's colours.

The graspable objects are prisms about 4.5 cm across and 3.5-4.5 cm tall, as VLMbench's basic shapes are, so every
one fits between the Panda's fingers (8 cm open). Stars, moons and triangles are extruded polygons (a mesh: drawn as
the polygon, colliding as its convex hull, which MuJoCo uses for any mesh). Containers and the shape sorter are open
boxes made of slabs; wiping areas are flat decals that nothing collides with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: EB-Manipulation's colour vocabulary (its system prompt), with the RGB each name is drawn in.
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.9, 0.05, 0.05),
    "maroon": (0.5, 0.0, 0.0),
    "lime": (0.2, 1.0, 0.2),
    "green": (0.0, 0.5, 0.0),
    "blue": (0.05, 0.15, 0.95),
    "navy": (0.0, 0.0, 0.45),
    "yellow": (1.0, 0.9, 0.0),
    "cyan": (0.0, 0.9, 0.9),
    "magenta": (0.95, 0.0, 0.95),
    "silver": (0.75, 0.75, 0.75),
    "gray": (0.45, 0.45, 0.45),
    "olive": (0.5, 0.5, 0.0),
    "purple": (0.5, 0.0, 0.5),
    "teal": (0.0, 0.5, 0.5),
    "azure": (0.0, 0.5, 1.0),
    "violet": (0.55, 0.0, 1.0),
    "rose": (1.0, 0.0, 0.5),
    "black": (0.05, 0.05, 0.05),
    "white": (0.97, 0.97, 0.97),
}

#: Graspable prisms (EB's shapes), how instructions name them, and how many of each a scene can hold.
OBJECT_KINDS = ("cube", "star", "cylinder", "triangular", "moon")
SHAPE_WORDS = {
    "cube": "cube",
    "star": "star",
    "cylinder": "cylinder",
    "triangular": "triangular prism",
    "moon": "moon",
}
SLOTS_PER_KIND = 4
AREA_KINDS = ("rectangle_area", "triangle_area", "round_area", "star_area")
AREA_WORDS = {"rectangle_area": "rectangle area", "triangle_area": "triangle area", "round_area": "round area",
              "star_area": "star area"}  # fmt: skip
#: Fixed fittings: how many of each a scene can hold.
FITTINGS = {"container": 2, "sorter": 1, "sponge": 1}
AREAS_PER_KIND = 2

#: Half-heights (metres) of the things that stand on the table, so a centre sits at table + half.
HALF_HEIGHT_M = {
    "cube": 0.0225,
    "star": 0.0175,
    "cylinder": 0.0225,
    "triangular": 0.0175,
    "moon": 0.0175,
    "sponge": 0.015,
    "container": 0.025,
    "sorter": 0.08,
}
#: Horizontal half extents (metres) for boxes in pictures and for spacing things apart.
HALF_EXTENT_M = {
    "cube": (0.0225, 0.0225),
    "star": (0.028, 0.028),
    "cylinder": (0.022, 0.022),
    "triangular": (0.025, 0.025),
    "moon": (0.028, 0.028),
    "sponge": (0.035, 0.02),
    "container": (0.063, 0.063),
    "sorter": (0.1, 0.1),
    "rectangle_area": (0.08, 0.03),
    "triangle_area": (0.08, 0.035),
    "round_area": (0.045, 0.045),
    "star_area": (0.055, 0.055),
}
OBJECT_MASS_KG = 0.05
#: Container: inner side, wall thickness, wall height (metres).
CONTAINER_INNER_M, CONTAINER_WALL_M, CONTAINER_HEIGHT_M = 0.11, 0.008, 0.05
#: Shape sorter: outer side, height, plate thickness, side of the square star hole in the middle of the top.
SORTER_SIDE_M, SORTER_HEIGHT_M, SORTER_PLATE_M, SORTER_HOLE_M = 0.2, 0.16, 0.01, 0.08
#: Wiping areas lie this thick on the table.
AREA_THICKNESS_M = 0.002


@dataclass(frozen=True)
class Prism:
    """A polygon extruded along z: vertices and triangles (outward, counter-clockwise) for a MuJoCo mesh."""

    vertices: tuple[float, ...]
    faces: tuple[int, ...]


def extrude(outline: list[tuple[float, float]], caps: list[tuple[int, int, int]], height: float) -> Prism:
    """The prism of a counter-clockwise `outline`, its cap triangulated by `caps` (indices into the outline)."""
    count = len(outline)
    vertices: list[float] = []
    for z in (-height / 2, height / 2):
        for x, y in outline:
            vertices += [round(x, 5), round(y, 5), round(z, 5)]
    faces: list[int] = []
    for a, b, c in caps:
        faces += [count + a, count + b, count + c]  # top, seen from +z
        faces += [c, b, a]  # bottom, seen from -z
    for i in range(count):
        j = (i + 1) % count
        faces += [i, j, count + j, i, count + j, count + i]
    return Prism(tuple(vertices), tuple(faces))


def _fan(outline: list[tuple[float, float]]) -> tuple[list[tuple[float, float]], list[tuple[int, int, int]]]:
    """A centre point added to a star-shaped outline, and the fan of triangles around it."""
    centre = len(outline)
    points = [*outline, (0.0, 0.0)]
    return points, [(i, (i + 1) % centre, centre) for i in range(centre)]


def star_outline(outer: float, inner: float, points: int = 5) -> list[tuple[float, float]]:
    """A star's outline, counter-clockwise, its first point on +x."""
    outline = []
    for index in range(2 * points):
        radius = outer if index % 2 == 0 else inner
        angle = math.pi * index / points
        outline.append((radius * math.cos(angle), radius * math.sin(angle)))
    return outline


def star_prism(outer: float = 0.028, inner: float = 0.013, height: float = 0.035) -> Prism:
    outline, caps = _fan(star_outline(outer, inner))
    return _extrude_with_centre(outline, caps, height)


def _extrude_with_centre(points: list[tuple[float, float]], caps: list[tuple[int, int, int]], height: float) -> Prism:
    """As `extrude`, for an outline whose last point is an interior centre (no side wall through it)."""
    outline = points[:-1]
    count = len(points)
    vertices: list[float] = []
    for z in (-height / 2, height / 2):
        for x, y in points:
            vertices += [round(x, 5), round(y, 5), round(z, 5)]
    faces: list[int] = []
    for a, b, c in caps:
        faces += [count + a, count + b, count + c, c, b, a]
    for i in range(len(outline)):
        j = (i + 1) % len(outline)
        faces += [i, j, count + j, i, count + j, count + i]
    return Prism(tuple(vertices), tuple(faces))


def triangle_prism(side: float = 0.05, height: float = 0.035) -> Prism:
    radius = side / math.sqrt(3)
    outline = [(radius * math.cos(a), radius * math.sin(a)) for a in (0.0, 2 * math.pi / 3, 4 * math.pi / 3)]
    return extrude(outline, [(0, 1, 2)], height)


def moon_prism(outer: float = 0.028, inner: float = 0.024, shift: float = 0.014, height: float = 0.035,
               samples: int = 12) -> Prism:  # fmt: skip
    """A crescent: the outer disc less a disc shifted along +x; the horns point to +x."""
    # The horns are where the two circles cross.
    cross_x = (outer**2 - inner**2 + shift**2) / (2 * shift)
    cross_y = math.sqrt(max(outer**2 - cross_x**2, 0.0))
    start = math.atan2(cross_y, cross_x)
    outer_arc = [
        (outer * math.cos(a), outer * math.sin(a))
        for a in (start + (2 * math.pi - 2 * start) * k / samples for k in range(samples + 1))
    ]
    inner_start = math.atan2(cross_y, cross_x - shift)
    inner_arc = [
        (shift + inner * math.cos(a), inner * math.sin(a))
        for a in (-inner_start + (2 * inner_start - 2 * math.pi) * k / samples for k in range(1, samples))
    ]
    # inner_arc runs from the lower horn back round to the upper one, just inside the outer arc
    outline = outer_arc + inner_arc
    # Centre the crescent on its own centroid, so the body's origin (what is grasped and listed) is on the material.
    cx, cy = _centroid(outline)
    outline = [(x - cx, y - cy) for x, y in outline]
    caps = []
    n = samples
    # a band: outer[k] .. outer[k+1] against inner points (inner index k maps to outline n+k for k in 1..n-1)
    inner_index = [0] + [n + (n - k) for k in range(1, n)] + [n]
    for k in range(n):
        a, b = k, k + 1
        c, d = inner_index[k + 1], inner_index[k]
        if c != b:
            caps.append((a, b, c))
        if d != a and d != c:
            caps.append((a, c, d))
    return extrude(outline, caps, height)


def _centroid(outline: list[tuple[float, float]]) -> tuple[float, float]:
    """The area centroid of a simple polygon (shoelace formula)."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(outline, outline[1:] + outline[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return cx / (3 * area), cy / (3 * area)


def area_triangle(length: float = 0.16, width: float = 0.07) -> Prism:
    """An elongated flat triangle along x (its long axis), for a wiping area."""
    outline = [(length / 2, 0.0), (-length / 2, width / 2), (-length / 2, -width / 2)]
    return extrude(outline, [(0, 1, 2)], AREA_THICKNESS_M)


def area_star(outer: float = 0.055, inner: float = 0.025) -> Prism:
    outline, caps = _fan(star_outline(outer, inner))
    return _extrude_with_centre(outline, caps, AREA_THICKNESS_M)


def mesh_xml(name: str, prism: Prism) -> str:
    vertices = " ".join(f"{v:g}" for v in prism.vertices)
    faces = " ".join(str(f) for f in prism.faces)
    return f'<mesh name="{name}" vertex="{vertices}" face="{faces}"/>'


def all_meshes() -> str:
    """The `<mesh>` elements every tabletop model declares."""
    return "".join(
        (
            mesh_xml("star_mesh", star_prism()),
            mesh_xml("triangular_mesh", triangle_prism()),
            mesh_xml("moon_mesh", moon_prism()),
            mesh_xml("area_triangle_mesh", area_triangle()),
            mesh_xml("area_star_mesh", area_star()),
            mesh_xml("decal_star_mesh", _decal(star_outline(0.03, 0.014))),
            mesh_xml("decal_triangle_mesh", _decal(star_outline(0.022, 0.022, points=3)[::2])),
        )
    )


def _decal(outline: list[tuple[float, float]]) -> Prism:
    points, caps = _fan(outline)
    return _extrude_with_centre(points, caps, 0.001)
