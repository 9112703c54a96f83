"""Frame fingerprints for golden episodes: an exact hash, and a thumbnail for comparing across GL stacks.

The same MuJoCo scene drawn by another GL stack (OSMesa vs EGL, another Mesa or MuJoCo version) differs in
anti-aliased edges and rounding, so a byte hash is only compared when the stack matches the one that recorded the
golden. Otherwise the thumbnails are compared: 16x16 area averages of the picture, which must agree within
`THUMB_TOLERANCE` grey levels (mean absolute difference over every pixel and channel, 0-255).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import numpy as np

THUMB_PX = 16
#: The mean absolute difference (0-255) two thumbnails of the same picture may show when drawn by different stacks.
THUMB_TOLERANCE = 4.0


def fingerprint(image: np.ndarray) -> dict[str, Any]:
    """An image's shape, the sha256 of its bytes, and its thumbnail (base64 of 16x16x3 uint8)."""
    array = np.ascontiguousarray(image)
    return {
        "shape": list(array.shape),
        "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
        "thumb": base64.b64encode(thumbnail(array).tobytes()).decode(),
    }


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A THUMB_PX x THUMB_PX x C uint8 area average of `image` (any size of at least THUMB_PX a side)."""
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 2:
        array = array[..., None]
    rows = np.linspace(0, array.shape[0], THUMB_PX + 1).astype(int)
    cols = np.linspace(0, array.shape[1], THUMB_PX + 1).astype(int)
    sums = np.add.reduceat(np.add.reduceat(array, rows[:-1], axis=0), cols[:-1], axis=1)
    counts = np.outer(np.diff(rows), np.diff(cols))[..., None]
    return np.rint(sums / counts).astype(np.uint8)


def thumb_difference(expected: dict[str, Any], got: dict[str, Any]) -> float:
    """The mean absolute difference (0-255) between two fingerprints' thumbnails."""
    first = np.frombuffer(base64.b64decode(expected["thumb"]), dtype=np.uint8).astype(np.int16)
    second = np.frombuffer(base64.b64decode(got["thumb"]), dtype=np.uint8).astype(np.int16)
    if first.shape != second.shape:
        return 255.0
    return float(np.abs(first - second).mean())
