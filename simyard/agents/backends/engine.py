"""The interface of a local generation engine: what the `local` agent and `simyard serve` ask of a model.

An engine owns one loaded model and serves many callers at once: each `generate` call is one request (one chat,
`n` samples); requests that arrive together are batched by the engine (continuous batching), so callers simply
await their own. Results keep the exact sampled token ids and their log-probabilities (token-faithful rollouts:
RL trains on the tokens the model sampled, never on re-tokenised text).

Messages use the OpenAI chat shape, including image content parts (`{"type": "image_url", "image_url": {"url":
"data:image/png;base64,..."}}`), so the same request serves the in-process agent and the HTTP server.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SamplingOptions:
    """How to sample. `temperature == 0` is greedy; `seed` makes sampling repeatable per request.

    `json_schema` (a JSON schema as text; added for constrained replies) makes every sample a JSON value matching
    it: tokens that would break the schema are masked before sampling (xgrammar), and the sample ends when the value
    is complete. Engines without constrained decoding raise `BackendError` for it.
    """

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0
    json_schema: str | None = None


#: Makes one logits processor (a transformers `LogitsProcessor`, or any `(input_ids, scores) -> scores` callable).
LogitsProcessorFactory = Callable[[], Callable[[Any, Any], Any]]


@dataclass(frozen=True)
class Request:
    """One chat to complete: OpenAI-style messages, sampling options and, for methods that post-process the
    model's next-token logits (CoDa's contrastive decoding, a banned token), logits-processor factories.

    Each factory is called once per sequence (a request of `n` samples gets `n` chains, since processors such as a
    contrast keep per-sequence state); the chain sees that sequence's ids so far (prompt and sampled, shape
    (1, length)) and its next-token logits (float32, (1, vocab)), while the batch runs, before temperature, top-p and
    a JSON grammar. Log-probabilities are those of the processed distribution, the one sampled from.
    """

    messages: Sequence[dict[str, Any]]
    options: SamplingOptions = field(default_factory=SamplingOptions)
    logits_processors: Sequence[LogitsProcessorFactory] = ()


@dataclass(frozen=True)
class Generation:
    """One sample of a request.

    Attributes:
        text: The decoded completion (cut before a stop string, which is not included).
        token_ids: The sampled ids, exactly as generated: those of `text`, plus the end-of-sequence id when the
            model stopped by itself (so RL learns to stop); a stop string's ids are dropped with its text.
        logprobs: One log-probability per sampled id (of the distribution it was sampled from, after temperature).
        top_logprobs: Per sampled id, the `top_logprobs` most likely tokens as {token text: log-probability}.
        finish_reason: `stop` (end of sequence or a stop string) or `length` (max_tokens reached).
        prompt_tokens: Tokens in the prompt after the chat template (and image tokens, for a VLM).
    """

    text: str
    token_ids: list[int]
    logprobs: list[float]
    top_logprobs: list[dict[str, float]] | None
    finish_reason: str
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)


@dataclass(frozen=True)
class ModelFacts:
    """What `simyard model info` prints and what callers check before sending (a VLM takes images)."""

    path: str
    architecture: str
    parameters: int
    dtype: str
    device: str
    context_length: int
    takes_images: bool


class Engine(abc.ABC):
    """A loaded model serving generation requests; thread- and task-safe. Close it to free the model."""

    @property
    @abc.abstractmethod
    def facts(self) -> ModelFacts:
        """The model's facts (architecture, size, dtype, device, context length, images)."""

    @abc.abstractmethod
    async def generate(self, request: Request) -> list[Generation]:
        """`request.options.n` samples of the chat, batched with whatever else is in flight."""

    def generate_sync(self, request: Request) -> list[Generation]:
        """`generate` for callers without an event loop."""
        import asyncio

        return asyncio.run(self.generate(request))

    def close(self) -> None:
        """Free the model (and stop the batching loop)."""
