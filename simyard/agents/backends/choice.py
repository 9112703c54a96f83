"""Constrained action decoding: score every valid action's log-likelihood given the prompt, pick the best.

A small model asked to write EmbodiedBench's JSON plan or RAGEN's `<answer>` block often writes something that names
no action. Scoring instead of generating makes every reply valid: the reply is written up to where the action goes
(the *prefix*: `<answer>` for RAGEN, `{"executable_plan": [{"action_id": ` for EmbodiedBench), and each valid action's
completion of it (`Up</answer>`, `3, "action_name": "find a Mug"}]}`) is scored by the sum of its tokens'
log-probabilities. The reply text is then the prefix plus the winner, in the episode's own format, so the agent
parses and records it exactly as a generated reply.

Cost: one pass over the prompt (and prefix), then one batched pass over all the completions that shares the
prompt's KV cache (the cache is expanded to one row per completion without copying), in chunks of `CHUNK` rows
so a world with 160 actions does not hold 160 copies of the attention at once. Completions of one token need no
second pass at all. It runs on the engine's batching thread between two decoding passes, so it never overlaps them.

The recorded `ModelCall` is token-faithful: its token ids are the prefix's and the chosen completion's, and its
log-probabilities are the model's for each of them (the prefix's are read from the prompt pass).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simyard.agents.formats import EmbodiedJSON, JsonObjectFormat, RagenFormat, ReplyFormat
from simyard.platform.api import Action, ActionSpec

#: Completions scored in one pass at most.
CHUNK = 64


@dataclass(frozen=True)
class ChoiceSet:
    """The replies an agent may give this turn: a shared prefix and one completion per valid action.

    Attributes:
        prefix: The reply's start, shared by every completion.
        completions: One text per action; `prefix + completions[i]` is a full reply in the episode's format.
        actions: The action each completion stands for (a choice id, or a command string).
    """

    prefix: str
    completions: tuple[str, ...]
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Scored:
    """The outcome of scoring a `ChoiceSet`.

    Attributes:
        best: Index of the chosen completion.
        scores: Each completion's log-likelihood (summed, or averaged per token with `normalize="mean"`).
        token_ids: The reply's ids: the prefix's, then the chosen completion's.
        logprobs: The model's log-probability of each of those ids.
        prompt_tokens: Tokens in the prompt, before the prefix.
    """

    best: int
    scores: list[float]
    token_ids: list[int]
    logprobs: list[float]
    prompt_tokens: int


def choice_set(reply_format: ReplyFormat, spec: ActionSpec, valid: Sequence[Action] | None = None) -> ChoiceSet | None:
    """The replies that name each valid action in `reply_format`, or None when this turn cannot be scored.

    Scoring needs a list: a choice world's actions (narrowed to `valid`, the observation's `valid_actions`, when it
    names some of them), or the commands a text world lists in `valid`. JSON and vector worlds, text worlds that
    list nothing, and formats other than RAGEN's and EmbodiedBench's are generated instead (None).
    """
    if spec.kind == "choice":
        ids = list(range(len(spec.choices)))
        if valid:
            named = sorted({i for action in valid if (i := spec.choice_id(action)) is not None})
            ids = named or ids
        names: list[str] = [spec.choices[i] for i in ids]
        actions: list[Action] = list(ids)
    elif spec.kind == "text" and valid and all(isinstance(action, str) for action in valid):
        names = list(dict.fromkeys(str(action) for action in valid))
        actions = list(names)
    else:
        return None
    if not names:
        return None
    if isinstance(reply_format, RagenFormat):
        return ChoiceSet("<answer>", tuple(f"{name}</answer>" for name in names), tuple(actions))
    if isinstance(reply_format, EmbodiedJSON):
        if spec.kind == "choice":
            completions = tuple(
                f'{index}, "action_name": {json.dumps(name)}}}]}}' for index, name in zip(ids, names, strict=True)
            )
            return ChoiceSet('{"executable_plan": [{"action_id": ', completions, tuple(actions))
        return ChoiceSet(
            '{"executable_plan": [{"action_name": ',
            tuple(f"{json.dumps(name)}}}]}}" for name in names),
            tuple(actions),
        )
    return None


def reply_schema(reply_format: ReplyFormat, spec: ActionSpec) -> str | None:
    """The JSON schema a generated reply is constrained to (`SamplingOptions.json_schema`), or None.

    EmbodiedBench's plan in a choice world: an object whose `executable_plan` lists steps whose `action_id` and
    `action_name` are the world's (the other three keys may be written first, as EmbodiedBench asks). A JSON world's
    own action schema. Anything else is not JSON, or has no schema, and is generated freely.
    """
    if isinstance(reply_format, EmbodiedJSON) and spec.kind == "choice" and spec.choices:
        step = {
            "type": "object",
            "properties": {
                "action_id": {"type": "integer", "enum": list(range(len(spec.choices)))},
                "action_name": {"type": "string", "enum": list(spec.choices)},
            },
            "required": ["action_id", "action_name"],
            "additionalProperties": False,
        }
        # Printable text only: JSON forbids raw control characters in strings, and a parser would refuse them.
        text = {"type": "string", "pattern": r"^[^\x00-\x1f\\\"]{0,600}$"}
        schema = {
            "type": "object",
            "properties": {
                "visual_state_description": text,
                "reasoning_and_reflection": text,
                "language_plan": text,
                "executable_plan": {"type": "array", "items": step, "minItems": 1, "maxItems": 20},
            },
            "required": ["executable_plan"],
            "additionalProperties": False,
        }
        return json.dumps(schema)
    if isinstance(reply_format, JsonObjectFormat) and spec.kind == "json" and spec.schema:
        return json.dumps(dict(spec.schema))
    return None


def score_choices(
    engine: Any,
    messages: Sequence[Mapping[str, Any]],
    choices: ChoiceSet,
    *,
    normalize: str = "sum",
    temperature: float = 0.0,
    seed: int | None = None,
) -> Scored:
    """Score `choices` after the prompt of `messages` on `engine`'s model thread (blocking; see the module docs).

    Args:
        engine: A `TransformersEngine`.
        messages: The chat (OpenAI shape).
        choices: The prefix and completions.
        normalize: `sum` (the log-likelihood) or `mean` (per token, which favours long names less).
        temperature: 0 picks the best; above 0 samples a completion from softmax(scores / temperature).
        seed: Seeds that draw.
    """
    prepared = engine.prepare(messages, continuation=choices.prefix)
    base = engine.prepare(messages).ids
    future = engine.batcher.call(
        lambda: _score(engine, prepared, base, choices, normalize=normalize, temperature=temperature, seed=seed)
    )
    return future.result()


async def ascore_choices(engine: Any, messages: Sequence[Mapping[str, Any]], choices: ChoiceSet, **options: Any):
    """`score_choices` for async callers: the event loop keeps serving other episodes meanwhile."""
    import asyncio

    prepared = engine.prepare(messages, continuation=choices.prefix)
    base = engine.prepare(messages).ids
    future = engine.batcher.call(lambda: _score(engine, prepared, base, choices, **options))
    return await asyncio.wrap_future(future)


def _score(
    engine: Any,
    prepared: Any,
    base: list[int],
    choices: ChoiceSet,
    *,
    normalize: str = "sum",
    temperature: float = 0.0,
    seed: int | None = None,
) -> Scored:
    import torch
    from transformers import DynamicCache

    model, device = engine.model, engine.device
    ids = prepared.ids
    # The prefix's own tokens, when the prompt's tokens come first unchanged (they do unless a merge crosses the
    # boundary; then the prefix counts as prompt and only the completion is recorded).
    prefix_len = len(ids) - len(base) if ids[: len(base)] == base else 0
    completions = [engine.encode(text) for text in choices.completions]
    if any(not tokens for tokens in completions):
        raise ValueError("a completion encodes to no tokens")
    cache = DynamicCache()
    inputs: dict[str, Any] = {
        "input_ids": torch.tensor([ids], device=device),
        "attention_mask": torch.ones((1, len(ids)), dtype=torch.long, device=device),
        "use_cache": True,
        engine.batcher.cache_kwarg: cache,
    }
    for name, value in prepared.extra.items():
        inputs[name] = value.to(device)
    if "image_grid_thw" in inputs and hasattr(getattr(model, "model", None), "get_rope_index"):
        positions, _ = model.model.get_rope_index(
            inputs["input_ids"],
            mm_token_type_ids=inputs.get("mm_token_type_ids"),
            image_grid_thw=inputs["image_grid_thw"],
            attention_mask=inputs["attention_mask"],
        )
        inputs["position_ids"] = positions
        start = int(positions.max()) + 1
    else:
        inputs["position_ids"] = torch.arange(len(ids), device=device).unsqueeze(0)
        start = len(ids)
    out = model(**inputs, logits_to_keep=prefix_len + 1)
    prompt_logprobs = torch.log_softmax(out.logits[0].float(), dim=-1)  # (prefix_len + 1, V)
    prefix_ids = ids[len(ids) - prefix_len :] if prefix_len else []
    prefix_logprobs = [float(prompt_logprobs[i, token]) for i, token in enumerate(prefix_ids)]
    last = prompt_logprobs[-1]  # the distribution of each completion's first token
    layers = [(layer.keys, layer.values) for layer in cache.layers]

    per_token: list[list[float]] = []
    for first in range(0, len(completions), CHUNK):
        chunk = completions[first : first + CHUNK]
        rows = len(chunk)
        width = max(len(tokens) for tokens in chunk) - 1  # the last token of each completion is never fed
        scores = [[float(last[tokens[0]])] for tokens in chunk]
        if width > 0:
            feed = torch.full((rows, width), engine.batcher.pad_id, dtype=torch.long)
            mask = torch.zeros((rows, len(ids) + width), dtype=torch.long)
            mask[:, : len(ids)] = 1
            for row, tokens in enumerate(chunk):
                body = tokens[:-1]
                if body:
                    feed[row, : len(body)] = torch.tensor(body)
                    mask[row, len(ids) : len(ids) + len(body)] = 1
            shared = DynamicCache()
            for number, (keys, values) in enumerate(layers):
                shared.update(keys.expand(rows, -1, -1, -1), values.expand(rows, -1, -1, -1), number)
            positions = (start + torch.arange(width)).unsqueeze(0).expand(rows, -1)
            logits = model(
                input_ids=feed.to(device),
                attention_mask=mask.to(device),
                position_ids=positions.to(device),
                use_cache=True,
                **{engine.batcher.cache_kwarg: shared},
            ).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            for row, tokens in enumerate(chunk):
                for j in range(1, len(tokens)):
                    scores[row].append(float(logprobs[row, j - 1, tokens[j]]))
        per_token.extend(scores)

    totals = [sum(values) / (len(values) if normalize == "mean" else 1) for values in per_token]
    best = _pick(totals, temperature, seed)
    return Scored(
        best=best,
        scores=totals,
        token_ids=prefix_ids + completions[best],
        logprobs=prefix_logprobs + per_token[best],
        prompt_tokens=len(ids) - prefix_len,
    )


def _pick(scores: list[float], temperature: float, seed: int | None) -> int:
    if temperature <= 0:
        return max(range(len(scores)), key=lambda i: scores[i])
    import random

    top = max(scores)
    weights = [math.exp((score - top) / temperature) for score in scores]
    return random.Random(seed).choices(range(len(scores)), weights=weights)[0]
