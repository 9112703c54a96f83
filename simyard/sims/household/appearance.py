"""How things look: the colour, material and shape names that scenes render and visual instructions use.

One table shared by the generators (which draw an appearance per instance, so "the yellow bottle" picks out one
bottle) and the MuJoCo scene (which turns the names into RGBA and material settings), so a word in an instruction
always means what the picture shows.
"""

from __future__ import annotations

#: Colour names and their RGBA (0-1). Chosen to be told apart at 500x500 under plain lighting.
COLORS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.10, 1.0),
    "orange": (0.95, 0.50, 0.08, 1.0),
    "yellow": (0.95, 0.85, 0.10, 1.0),
    "green": (0.15, 0.65, 0.20, 1.0),
    "blue": (0.12, 0.30, 0.85, 1.0),
    "purple": (0.50, 0.20, 0.70, 1.0),
    "pink": (0.95, 0.50, 0.70, 1.0),
    "brown": (0.50, 0.30, 0.12, 1.0),
    "black": (0.08, 0.08, 0.08, 1.0),
    "white": (0.95, 0.95, 0.95, 1.0),
    "gray": (0.55, 0.55, 0.55, 1.0),
    "beige": (0.90, 0.82, 0.65, 1.0),
}

#: Material names and their MuJoCo material settings (specular, shininess, reflectance, alpha scale).
MATERIALS: dict[str, dict[str, float]] = {
    "plastic": {"specular": 0.3, "shininess": 0.4, "reflectance": 0.0, "alpha": 1.0},
    "metal": {"specular": 0.9, "shininess": 0.9, "reflectance": 0.3, "alpha": 1.0},
    "wood": {"specular": 0.1, "shininess": 0.1, "reflectance": 0.0, "alpha": 1.0},
    "glass": {"specular": 0.8, "shininess": 0.95, "reflectance": 0.1, "alpha": 0.55},
    "ceramic": {"specular": 0.6, "shininess": 0.7, "reflectance": 0.05, "alpha": 1.0},
    "fabric": {"specular": 0.0, "shininess": 0.0, "reflectance": 0.0, "alpha": 1.0},
    "organic": {"specular": 0.2, "shininess": 0.3, "reflectance": 0.0, "alpha": 1.0},
}

#: Shape names the scene can build (MuJoCo geom types, plus `cabinet`-like boxes with doors built from boxes).
SHAPES = ("box", "cylinder", "sphere", "capsule", "ellipsoid")
