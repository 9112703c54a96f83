"""What crosses the wire in OpenEnv's protocol, both ways: observations and steps as JSON, actions as a per-world
pydantic model, the action spec inside `/schema`, images as PNG data URLs.

The server (`envserve.app`) and the `remote` world (`simyard.sims.remote`) both use it, so the two ends of simyard's
own link cannot drift apart.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from simyard.platform.api import ActionSpec, Observation, StepResult, Task
from simyard.platform.frames import data_url

#: The key under `/schema`'s action schema that carries simyard's full ActionSpec (a JSON-schema extension keyword).
SPEC_KEY = "x-simyard-action-spec"
#: The key under `/schema`'s action schema that lists the world's image views.
VIEWS_KEY = "x-simyard-views"

_ACTION_TYPES: dict[str, Any] = {
    "choice": int | str,
    "text": str,
    "json": dict[str, Any],
    "vector": list[float],
}

_ACTION_DOCS = {
    "choice": "a choice id (integer) or its name",
    "text": "a command string",
    "json": "a JSON object matching the world's schema",
    "vector": "a list of numbers",
}


def action_model(spec: ActionSpec) -> type[BaseModel]:
    """The pydantic model of one action of a world: `{"action": ..., "metadata": {...}}`, typed by the spec's kind.

    Only the shape is checked here (a 422 names the field); whether the action makes sense is the world's to say,
    and a world answers a nonsensical one with an invalid step, never an error.
    """
    return create_model(
        "SimyardAction",
        __config__=ConfigDict(extra="forbid"),
        action=(_ACTION_TYPES[spec.kind], Field(description=_ACTION_DOCS[spec.kind])),
        metadata=(dict[str, Any], Field(default_factory=dict, description="ignored; OpenEnv's Action field")),
    )


def action_schema(spec: ActionSpec, views: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON schema `/schema` gives for actions, with the whole ActionSpec under `SPEC_KEY` for simyard clients."""
    schema = action_model(spec).model_json_schema()
    schema[SPEC_KEY] = spec_to_json(spec)
    schema[VIEWS_KEY] = list(views)
    return schema


OBSERVATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "SimyardObservation",
    "properties": {
        "text": {"type": "string"},
        "images": {"type": "object", "additionalProperties": {"type": "string", "description": "PNG data URL"}},
        "data": {"type": "object"},
        "info": {"type": "object"},
        "terminated": {"type": "boolean"},
        "truncated": {"type": "boolean"},
    },
}

STATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "SimyardState",
    "properties": {
        "episode_id": {"type": ["string", "null"]},
        "step_count": {"type": "integer", "minimum": 0},
        "world": {"type": "string"},
        "task_id": {"type": ["string", "null"]},
        "state": {"type": "object"},
    },
}


def spec_to_json(spec: ActionSpec) -> dict[str, Any]:
    return {
        "kind": spec.kind, "choices": list(spec.choices), "schema": dict(spec.schema) if spec.schema else None,
        "low": list(spec.low) if spec.low is not None else None,
        "high": list(spec.high) if spec.high is not None else None,
        "size": spec.size, "integer": spec.integer, "help": spec.help, "role": spec.role,
        "guidelines": spec.guidelines,
    }


def spec_from_json(data: Mapping[str, Any]) -> ActionSpec:
    return ActionSpec(
        kind=data["kind"], choices=tuple(data.get("choices") or ()), schema=data.get("schema"),
        low=tuple(data["low"]) if data.get("low") is not None else None,
        high=tuple(data["high"]) if data.get("high") is not None else None,
        size=data.get("size"), integer=bool(data.get("integer")), help=data.get("help") or "",
        role=data.get("role") or "", guidelines=data.get("guidelines") or "",
    )


def plain(value: Any) -> Any:
    """`value` with numpy scalars and arrays, tuples, sets and non-finite floats (None: strict JSON has no NaN) turned
    into what JSON can carry."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(item) for item in value), key=str)
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def observation_json(observation: Observation, info: Mapping[str, Any] | None = None, terminated: bool = False,
                     truncated: bool = False) -> dict[str, Any]:
    """One simyard observation as OpenEnv's `observation` object (images as PNG data URLs)."""
    return {
        "text": observation.text,
        "images": {view: data_url(image) for view, image in observation.images.items()},
        "data": plain(observation.data),
        "info": plain(info or {}),
        "terminated": terminated,
        "truncated": truncated,
    }


def reset_json(observation: Observation, spec: ActionSpec) -> dict[str, Any]:
    """A reset's answer in OpenEnv's shape; the episode's action spec rides along (choices may change per task)."""
    body = observation_json(observation)
    body["action_spec"] = spec_to_json(spec)
    return {"observation": body, "reward": None, "done": False}


def step_json(result: StepResult) -> dict[str, Any]:
    """A step's answer in OpenEnv's shape: `done` is terminated or truncated, both kept in the observation."""
    return {
        "observation": observation_json(result.observation, result.info, result.terminated, result.truncated),
        "reward": plain(float(result.reward)),
        "done": bool(result.terminated or result.truncated),
    }


def task_from_reset(data: Mapping[str, Any], world: str, world_cls: Any) -> Task:
    """The task a reset asks for: `task` (a Task object, its `world` may be left out), or one generated from
    `task_seed` (else `seed`, else 0) by the world's own task generator.

    Raises:
        ValueError: the task is not a valid Task of this world, or the world generates no tasks.
    """
    given = data.get("task")
    if given is not None:
        if not isinstance(given, Mapping):
            raise ValueError("task must be a JSON object (a simyard Task)")
        fields = dict(given)
        if fields.setdefault("world", world) != world:
            raise ValueError(f"task is for world {fields['world']!r}, but this server serves {world!r}")
        try:
            return Task.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"field 'task.{'.'.join(str(part) for part in first['loc'])}': {first['msg']}") from None
    seed = data.get("task_seed", data.get("seed"))
    try:
        return world_cls.sample_task(int(seed) if seed is not None else 0)
    except NotImplementedError as exc:
        raise ValueError(f"{exc}; send the task in the reset's `task` field") from None


# ----------------------------------------------------------------------------------------- the client side


def decode_image(url: str) -> np.ndarray:
    """An HxWx3 uint8 array from a PNG (or any format Pillow reads) data URL."""
    from PIL import Image

    _, _, payload = url.partition(",")
    with Image.open(io.BytesIO(base64.b64decode(payload))) as image:
        return np.asarray(image.convert("RGB"))


def observation_from_json(body: Mapping[str, Any]) -> Observation:
    """A simyard Observation from an OpenEnv observation object.

    A simyard server's object has `text`, `images` and `data`; any other server's object is shown to the agent as
    JSON text and kept whole in `data`.
    """
    if isinstance(body.get("text"), str) and isinstance(body.get("data", {}), Mapping):
        images = {view: decode_image(url) for view, url in (body.get("images") or {}).items()
                  if isinstance(url, str) and url.startswith("data:")}
        return Observation(text=body["text"], images=images, data=dict(body.get("data") or {}))
    import json

    return Observation(text=json.dumps(body, sort_keys=True), data=dict(body))
