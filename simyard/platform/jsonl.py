"""Compact JSON lines for run files: one `dumps` that never loses a line over a numpy value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def _json_default(value: Any) -> Any:
    # Worlds promise JSON-serialisable info, but numpy scalars slip through easily; never lose a step over it.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def dumps(value: Any) -> str:
    """Compact one-line JSON that never fails on numpy values (falls back to repr for the truly odd)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


# --------------------------------------------------------------------------------------------------- manifest
