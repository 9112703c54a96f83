"""Continuous batching for one loaded model: every request in flight shares each forward pass.

One `Batcher` runs one thread that owns the model. Callers (the episodes a worker keeps in flight, the HTTP server's
handlers) submit prepared prompts from any thread or event loop and get a `concurrent.futures.Future`; the thread:

1. **admits** waiting requests while slots are free (`max_batch` sequences; a request of `n` samples takes `n`),
   runs their prompts through the model in one forward pass (text prompts left-padded together; a prompt with
   images on its own, since vision inputs do not pad), and samples each sequence's first token;
2. **merges** the new rows into the running batch: their prompts' keys and values are written once into free rows
   of a preallocated per-slot cache (`kv_slots.SlotCache`), right-aligned with the running rows, the columns to
   their left masked as left padding is;
3. **decodes** one token for every running sequence in one forward pass (the last sampled tokens, their own
   positions, the shared cache, which each layer writes in place: nothing is copied per token);
4. **retires** every sequence that finished (end of sequence, a stop string, `max_tokens`, the context length, or
   cancelled by its caller) at once: the last running rows move into its slots, so a long request never holds a
   short one back and a finished one never costs another pass.

Then it loops: requests that arrived during a pass join at the next one. Each sequence keeps its own position ids
(the count of its real tokens), so left padding changes nothing it computes: greedy decoding gives the same tokens
batched as one at a time (tested), up to the floating-point noise of a different batch shape.

Sampling is per sequence (temperature, top-p, a seeded generator per sample, so a seeded request samples the same
tokens whatever it is batched with). Log-probabilities are those of the distribution sampled from after
temperature (before top-p truncation; for greedy decoding the model's own distribution), so a trainer that scores
the same tokens at the same temperature gets the same numbers.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from simyard.agents.backends.engine import Generation, SamplingOptions
from simyard.agents.backends.kv_slots import SlotCache

log = logging.getLogger(__name__)

#: Shared leading tokens worth reusing a kept prompt's KV cache for.
MIN_PREFIX = 32


@dataclass
class Prepared:
    """A prompt ready for the model: its token ids and any extra model inputs (pixel values, image grids).

    Attributes:
        ids: The prompt's token ids, after the chat template (image placeholders expanded, for a VLM).
        extra: Extra forward inputs for the prompt's prefill, each with a leading batch dimension of 1 (for
            LLaVA: `pixel_values`; for Qwen2-VL: `pixel_values` and `image_grid_thw`).
        notes: What preparing the prompt changed (an image dropped for a text-only model), for the caller to show.
        grammar: A compiled xgrammar grammar the samples must follow (a JSON schema), or None.
    """

    ids: list[int]
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    grammar: Any = None


#: A listener hears every token of a streamed request: (sample index, token id, log-probability, top log-probs,
#: finish reason or None). It runs on the batching thread and must be quick (hand the event to a queue).
Listener = Callable[[int, int, float, "dict[str, float] | None", "str | None"], None]


@dataclass
class _Job:
    prepared: Prepared
    options: SamplingOptions
    future: concurrent.futures.Future[list[Generation]]
    listener: Listener | None = None
    processors: Sequence[Callable[[], Any]] = ()
    chains: list[Any] = field(default_factory=list)  # one per sample, made at admission
    submitted: float = field(default_factory=time.monotonic)
    first_token_s: float | None = None
    seqs: list[_Seq] = field(default_factory=list)


@dataclass(frozen=True)
class _Cancel:
    future: concurrent.futures.Future[list[Generation]]


@dataclass
class _Seq:
    job: _Job
    index: int
    generator: torch.Generator
    next_pos: int
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top: list[dict[str, float]] = field(default_factory=list)
    finish: str | None = None
    stop_at: int | None = None  # where a stop string starts in the decoded text
    matcher: Any = None  # the grammar's state, when the request is constrained
    chain: Any = None  # the sequence's own logits processors (a LogitsProcessorList), when the request has some


@dataclass
class BatchStats:
    """Counters a benchmark or test reads: passes run, the largest batch, tokens generated."""

    prefill_passes: int = 0
    decode_passes: int = 0
    max_running: int = 0
    tokens: int = 0
    requests: int = 0
    prefix_hits: int = 0
    prefix_tokens: int = 0
    cancelled: int = 0
    first_token_s: list[float] = field(default_factory=list)


class Batcher:
    """The batching thread of one model (see the module docs).

    Args:
        model: A transformers model in eval mode (causal LM or image-text-to-text) on `device`.
        device: Where the model runs.
        max_batch: Sequences decoded together at most; 1 turns batching off (one request at a time, in order).
        eos_ids: Token ids that end a sequence.
        pad_id: Id written in padded input positions (never attended to).
        context_length: Positions the model can take; a sequence stops (`length`) when it reaches them.
        decode: Token ids to text, skipping special tokens.
        token_text: One token id to its text, for top log-probabilities.
        cache_kwarg: The forward keyword the model takes its cache by (`cache` in transformers 5, `past_key_values`
            before).
        prefill_tokens: Padded prompt positions per prefill pass at most: prompts are prefilled together while
            they fit (a long prompt alone), because a prompt's pass is already large and a padded batch of long
            ones costs more in attention masks than it saves.
        prefix_cache: Prompts whose KV cache is kept for reuse (0: none). A prompt that shares at least
            `MIN_PREFIX` leading tokens with a kept one (the same system prompt, the same episode's last turn)
            computes only the rest.
    """

    def __init__(
        self,
        model: Any,
        *,
        device: torch.device,
        max_batch: int,
        eos_ids: Sequence[int],
        pad_id: int,
        context_length: int,
        decode: Callable[[list[int]], str],
        token_text: Callable[[int], str],
        cache_kwarg: str = "cache",
        prefill_tokens: int = 2048,
        prefix_cache: int = 8,
        name: str = "simyard-batcher",
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.model = model
        self.device = device
        self.max_batch = max_batch
        self.eos_ids = frozenset(int(i) for i in eos_ids)
        self.pad_id = int(pad_id)
        self.context_length = int(context_length)
        self.decode = decode
        self.token_text = token_text
        self.cache_kwarg = cache_kwarg
        self.prefill_tokens = prefill_tokens
        self.prefix_cache = prefix_cache
        self._prefixes: OrderedDict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = OrderedDict()
        self.stats = BatchStats()
        self._queue: queue.SimpleQueue[_Job | _Cancel | Callable[[], None] | None] = queue.SimpleQueue()
        self._waiting: list[_Job] = []
        self._cancels: list[_Cancel] = []
        self._calls: list[Callable[[], None]] = []
        self._running: list[_Seq] = []
        self._slots: SlotCache | None = None  # made at the first merge (it needs the layer count)
        self._pending: torch.Tensor | None = None  # (B,): the last sampled token of each row, not yet cached
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------- the public side

    def submit(
        self,
        prepared: Prepared,
        options: SamplingOptions,
        listener: Listener | None = None,
        processors: Sequence[Callable[[], Any]] = (),
    ) -> concurrent.futures.Future[list[Generation]]:
        """Queue a prompt for `options.n` samples; the future resolves to one `Generation` per sample, in order.

        `processors` are logits-processor factories, called once per sample on the batching thread (see
        `engine.Request.logits_processors`).
        """
        if self._closed:
            raise RuntimeError("the model was closed")
        if not 1 <= options.n <= self.max_batch:
            raise ValueError(f"n={options.n} samples do not fit {self.max_batch} slots")
        future: concurrent.futures.Future[list[Generation]] = concurrent.futures.Future()
        self._queue.put(_Job(prepared, options, future, listener, tuple(processors)))
        return future

    def call(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        """Run `fn()` on the batching thread between two passes (model work that must not overlap a pass)."""
        if self._closed:
            raise RuntimeError("the model was closed")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 (handed to the caller)
                    future.set_exception(exc)

        self._queue.put(run)
        return future

    def cancel(self, future: concurrent.futures.Future[list[Generation]]) -> None:
        """Give up the request behind `future` (its client went away): a request still waiting never starts; a running
        one's sequences leave the batch before the next pass, freeing their slots, and `future` raises
        `concurrent.futures.CancelledError`. Safe from any thread; a finished request is left as it is."""
        if future.done() or future.cancel() or self._closed:
            return
        self._queue.put(_Cancel(future))

    def close(self) -> None:
        """Stop the thread; requests still queued or running fail with RuntimeError."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    @property
    def running(self) -> int:
        return len(self._running)

    # ------------------------------------------------------------------------------------------- the thread

    def _loop(self) -> None:
        try:
            with torch.inference_mode():
                while self._take(block=not (self._running or self._waiting or self._calls or self._cancels)):
                    self._step()
        except BaseException as exc:  # noqa: BLE001 (a bug or an OOM: fail everything in flight, loudly)
            log.exception("the batching thread stopped")
            self._fail_all(RuntimeError(f"the model's batching thread stopped: {exc!r}"))
            return
        self._fail_all(RuntimeError("the model was closed"))

    def _take(self, block: bool) -> bool:
        """Move what arrived into the waiting lists; False once closed."""
        try:
            item = self._queue.get(block=block)
        except queue.Empty:
            return True
        while True:
            if item is None:
                return False
            if isinstance(item, _Job):
                self._waiting.append(item)
            elif isinstance(item, _Cancel):
                self._cancels.append(item)
            else:
                self._calls.append(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return True

    def _step(self) -> None:
        if self._cancels:
            self._cancel_now()
        calls, self._calls = self._calls, []
        for call in calls:
            call()
        admitted: list[_Job] = []
        free = self.max_batch - len(self._running)
        while self._waiting and (self._waiting[0].options.n <= free or not (self._running or admitted)):
            job = self._waiting.pop(0)
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.chains = [_chain(job) for _ in range(job.options.n)]
            except Exception as exc:  # noqa: BLE001 (a factory's bug fails its own request only)
                log.warning("a logits-processor factory failed: %r", exc)
                job.future.set_exception(exc)
                continue
            admitted.append(job)
            free -= job.options.n
        if admitted:
            self._prefill(admitted)
        if self._running:
            self._decode()

    def _cancel_now(self) -> None:
        """Retire the sequences of every cancelled request at once."""
        wanted = {id(cancel.future) for cancel in self._cancels}
        self._cancels = []
        jobs = {id(seq.job): seq.job for seq in self._running if id(seq.job.future) in wanted}
        if not jobs:
            return
        for job in jobs.values():
            for seq in job.seqs:
                seq.finish = seq.finish or "cancelled"
            if not job.future.done():
                job.future.set_exception(concurrent.futures.CancelledError())
            self.stats.cancelled += 1
        self._retire()

    def _fail_all(self, error: BaseException) -> None:
        jobs = {id(seq.job): seq.job for seq in self._running}
        jobs.update({id(job): job for job in self._waiting})
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Job):
                jobs[id(item)] = item
        for job in jobs.values():
            if not job.future.done():
                job.future.set_exception(error)
        self._running, self._waiting = [], []
        if self._slots is not None:
            self._slots.clear()
        self._prefixes.clear()

    # ------------------------------------------------------------------------------------------- prefill

    def _prefill(self, jobs: list[_Job]) -> None:
        pending = [job for job in jobs if not job.prepared.extra]
        for job in jobs:  # a prompt with images runs alone: vision inputs do not pad
            if job.prepared.extra:
                self._prefill_safely([job])
        while pending:
            misses = []
            for job in pending:
                found = self._prefix_lookup(job.prepared.ids)
                if found is None:
                    misses.append(job)
                else:
                    self._prefill_safely([job], found)
            if not misses:
                break
            # Prompts that share a prefix with the first miss wait for it to be cached; the others come along
            # (similar lengths together, at most `prefill_tokens` padded positions in the pass).
            lead, group, pending = misses[0], [misses[0]], []
            width = len(lead.prepared.ids)
            for job in misses[1:]:
                shares = self.prefix_cache and _common(job.prepared.ids, lead.prepared.ids) >= MIN_PREFIX
                wider = max(width, len(job.prepared.ids))
                if not shares and wider * (len(group) + 1) <= self.prefill_tokens:
                    group.append(job)
                    width = wider
                else:
                    pending.append(job)
            self._prefill_safely(group)

    def _prefill_safely(self, group: list[_Job], prefix: tuple[int, list[Any]] | None = None) -> None:
        try:
            self._prefill_group(group, prefix)
        except Exception as exc:  # noqa: BLE001 (a bad input fails its own requests, not the batch)
            if _is_oom(exc):
                raise
            log.warning("prefill failed: %r", exc)
            for job in group:
                if not job.future.done():
                    job.future.set_exception(exc)

    def _prefix_lookup(self, ids: list[int]) -> tuple[int, list[Any]] | None:
        """(length, per-layer KV) of the longest cached prompt prefix of `ids`, if it is worth reusing."""
        best, found = 0, None
        for key, layers in self._prefixes.items():
            common = _common(ids, key)
            if common > best:
                best, found = common, (key, layers)
        best = min(best, len(ids) - 1)  # at least one token is fed, for its logits
        if found is None or best < MIN_PREFIX:
            return None
        self._prefixes.move_to_end(found[0])
        self.stats.prefix_hits += 1
        self.stats.prefix_tokens += best
        return best, found[1]

    def _prefix_store(self, ids: list[int], layers: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        if not self.prefix_cache or len(ids) < MIN_PREFIX:
            return
        key = tuple(ids)
        self._prefixes[key] = layers
        self._prefixes.move_to_end(key)
        while len(self._prefixes) > self.prefix_cache:
            self._prefixes.popitem(last=False)

    def _prefill_group(self, jobs: list[_Job], prefix: tuple[int, list[Any]] | None = None) -> None:
        from transformers import DynamicCache

        lengths = [len(job.prepared.ids) for job in jobs]
        width = max(lengths)
        cached = prefix[0] if prefix is not None else 0  # one job when a prefix is reused
        ids = torch.full((len(jobs), width - cached), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for row, job in enumerate(jobs):
            ids[row, width - lengths[row] :] = torch.tensor(job.prepared.ids[cached:], dtype=torch.long)
            mask[row, width - lengths[row] :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        cache = DynamicCache()
        if prefix is not None:
            for number, (keys, values) in enumerate(prefix[1]):
                cache.update(keys[:, :, :cached], values[:, :, :cached], number)
        inputs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, self.cache_kwarg: cache, "use_cache": True}
        for name, value in jobs[0].prepared.extra.items():  # images: one job per group
            inputs[name] = value.to(self.device)
        if "image_grid_thw" in inputs and hasattr(getattr(self.model, "model", None), "get_rope_index"):
            # Qwen2-VL style: 3-D multimodal rotary positions for the prompt; text after it advances by one.
            positions, _ = self.model.model.get_rope_index(
                ids,
                mm_token_type_ids=inputs.get("mm_token_type_ids"),
                image_grid_thw=inputs["image_grid_thw"],
                attention_mask=mask,
            )
            inputs["position_ids"] = positions
            next_pos = (positions.amax(dim=(0, 2)) + 1).tolist()
        else:
            positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, cached:]
            inputs["position_ids"] = positions
            next_pos = lengths
        out = self.model(**inputs, logits_to_keep=1)
        self.stats.prefill_passes += 1
        if self.prefix_cache and not jobs[0].prepared.extra:
            for row, job in enumerate(jobs):
                start = width - lengths[row]
                self._prefix_store(
                    job.prepared.ids,
                    [(layer.keys[row : row + 1, :, start:], layer.values[row : row + 1, :, start:])
                     for layer in cache.layers],
                )
        logits = out.logits[:, -1, :]
        # One row per sample: a request of n samples shares its prompt's pass and cache.
        rows = [row for row, job in enumerate(jobs) for _ in range(job.options.n)]
        seqs: list[_Seq] = []
        for row, job in enumerate(jobs):
            job.seqs = [
                _Seq(
                    job, index, _generator(job.options.seed, index), int(next_pos[row]), matcher=_matcher(job),
                    chain=job.chains[index] if job.chains else None,
                )
                for index in range(job.options.n)
            ]
            seqs.extend(job.seqs)
            self.stats.requests += 1
        index = torch.tensor(rows, device=self.device)
        layers = [(layer.keys.index_select(0, index), layer.values.index_select(0, index)) for layer in cache.layers]
        self._sample(seqs, logits.index_select(0, index))
        keep = [i for i, seq in enumerate(seqs) if seq.finish is None]
        self._finish_jobs(seqs)
        if not keep:
            return
        keep_index = torch.tensor(keep, device=self.device)
        layers = [(k.index_select(0, keep_index), v.index_select(0, keep_index)) for k, v in layers]
        new_mask = mask.index_select(0, index).index_select(0, keep_index)
        pending = torch.tensor([seqs[i].ids[-1] for i in keep], device=self.device)
        self._merge([seqs[i] for i in keep], layers, new_mask, pending)

    def _merge(
        self, seqs: list[_Seq], layers: list[tuple[torch.Tensor, torch.Tensor]], mask: torch.Tensor,
        pending: torch.Tensor,
    ) -> None:
        """Add rows to the running batch: their prompts' keys and values go into free slots of the cache."""
        if self._slots is None:
            self._slots = SlotCache(self.max_batch, len(layers))
        if not self._running:
            self._slots.clear()
            self._pending = None
        self._slots.add(layers, mask.sum(-1).tolist())
        self._pending = pending if self._pending is None else torch.cat([self._pending, pending])
        self._running.extend(seqs)
        self.stats.max_running = max(self.stats.max_running, len(self._running))

    # ------------------------------------------------------------------------------------------- decode

    def _decode(self) -> None:
        slots = self._slots
        assert slots is not None and self._pending is not None
        slots.reserve(1)
        positions = torch.tensor([seq.next_pos for seq in self._running], device=self.device).unsqueeze(1)
        out = self.model(
            input_ids=self._pending.unsqueeze(1),
            attention_mask=slots.mask(1),
            position_ids=positions,
            use_cache=True,
            **{self.cache_kwarg: slots},
        )
        slots.advance(1)
        self.stats.decode_passes += 1
        for seq in self._running:
            seq.next_pos += 1
        self._sample(self._running, out.logits[:, -1, :])
        self._finish_jobs(self._running)
        self._retire()

    def _retire(self) -> None:
        """Free the slots of every finished (or cancelled) sequence at once; set the next pass's input tokens."""
        gone = [i for i, seq in enumerate(self._running) if seq.finish is not None]
        if gone:
            assert self._slots is not None
            order = self._slots.remove(gone)
            self._running = [self._running[i] for i in order]
        self._pending = (
            torch.tensor([seq.ids[-1] for seq in self._running], device=self.device) if self._running else None
        )

    # ------------------------------------------------------------------------------------------- sampling

    def _sample(self, seqs: list[_Seq], logits: torch.Tensor) -> None:
        """Sample one token per row for `seqs` and append it (with its log-probability) to each."""
        logits = logits.float()
        if any(seq.chain is not None for seq in seqs):
            logits = self._process(seqs, logits)
        constrained = [row for row, seq in enumerate(seqs) if seq.matcher is not None]
        if constrained:
            _mask_grammar(logits, [seqs[row] for row in constrained], constrained)
        temps = torch.tensor(
            [seq.job.options.temperature if seq.job.options.temperature > 0 else 1.0 for seq in seqs],
            device=logits.device,
        ).unsqueeze(1)
        logprobs = torch.log_softmax(logits / temps, dim=-1)
        greedy = [seq.job.options.temperature <= 0 for seq in seqs]
        chosen = torch.argmax(logprobs, dim=-1)
        sampled = [i for i, g in enumerate(greedy) if not g]
        if sampled:
            index = torch.tensor(sampled, device=logits.device)
            probs = logprobs.index_select(0, index).exp()
            top_p = torch.tensor([seqs[i].job.options.top_p for i in sampled], device=logits.device).unsqueeze(1)
            ordered, order = probs.sort(dim=-1, descending=True)
            cumulative = ordered.cumsum(-1)
            ordered = ordered.masked_fill(cumulative - ordered >= top_p, 0.0)  # keep the nucleus (at least one)
            cdf = ordered.cumsum(-1)
            draws = torch.tensor(
                [float(torch.rand((), generator=seqs[i].generator)) for i in sampled], device=logits.device
            ).unsqueeze(1)
            position = torch.searchsorted(cdf, draws * cdf[:, -1:]).clamp(max=cdf.shape[1] - 1)
            chosen[index] = order.gather(1, position).squeeze(1)
        picked = logprobs.gather(1, chosen.unsqueeze(1)).squeeze(1)
        top_n = max(seq.job.options.top_logprobs for seq in seqs)
        top_values = top_ids = None
        if top_n:
            top_values, top_ids = logprobs.topk(min(top_n, logprobs.shape[1]), dim=-1)
            top_values, top_ids = top_values.tolist(), top_ids.tolist()
        chosen_list, picked_list = chosen.tolist(), picked.tolist()
        now = time.monotonic()
        for row, seq in enumerate(seqs):
            job, options = seq.job, seq.job.options
            token = int(chosen_list[row])
            seq.ids.append(token)
            seq.logprobs.append(float(picked_list[row]))
            top = None
            if options.top_logprobs and top_values is not None and top_ids is not None:
                top = {}
                wanted = options.top_logprobs
                for value, tid in zip(top_values[row][:wanted], top_ids[row][:wanted], strict=True):
                    top.setdefault(self.token_text(int(tid)), float(value))
                seq.top.append(top)
            self.stats.tokens += 1
            if job.first_token_s is None:
                job.first_token_s = now - job.submitted
                self.stats.first_token_s.append(job.first_token_s)
            if seq.matcher is not None and not seq.matcher.is_terminated():
                seq.matcher.accept_token(token)
            if token in self.eos_ids or (seq.matcher is not None and seq.matcher.is_terminated()):
                seq.finish = "stop"
            elif options.stop and self._hit_stop(seq):
                seq.finish = "stop"
            elif len(seq.ids) >= options.max_tokens or seq.next_pos >= self.context_length:
                seq.finish = "length"
            if job.listener is not None:
                try:
                    job.listener(seq.index, token, seq.logprobs[-1], top, seq.finish)
                except Exception:  # noqa: BLE001 (a listener's bug must not stop the batch)
                    log.exception("a token listener failed")

    def _process(self, seqs: list[_Seq], logits: torch.Tensor) -> torch.Tensor:
        """Each sequence's own logits processors on its own row (rows without any are left as they are).

        A processor that raises fails its own request (the sequence is retired at once), never the batch.
        """
        from simyard.agents.backends.hooks.logits import apply_row_chains

        out = logits
        for row, seq in enumerate(seqs):
            if seq.chain is None or seq.finish is not None:
                continue
            ids = torch.tensor(seq.job.prepared.ids + seq.ids, device=logits.device)
            try:
                processed = apply_row_chains([seq.chain], [ids], logits[row : row + 1])
            except Exception as exc:  # noqa: BLE001 (a processor's bug is its request's failure)
                log.warning("a logits processor failed: %r", exc)
                for sibling in seq.job.seqs:
                    sibling.finish = sibling.finish or "error"
                if not seq.job.future.done():
                    seq.job.future.set_exception(exc)
                continue
            if out is logits:
                out = logits.clone()
            out[row] = processed[0].float()
        return out

    def _hit_stop(self, seq: _Seq) -> bool:
        text = self.decode(seq.ids)
        hits = [text.find(stop) for stop in seq.job.options.stop if stop]
        hits = [hit for hit in hits if hit >= 0]
        if not hits:
            return False
        seq.stop_at = min(hits)
        return True

    def _finish_jobs(self, seqs: list[_Seq]) -> None:
        for job in {id(seq.job): seq.job for seq in seqs if seq.finish is not None}.values():
            if all(seq.finish is not None for seq in job.seqs) and not job.future.done():
                job.future.set_result([self._generation(seq) for seq in job.seqs])

    def _generation(self, seq: _Seq) -> Generation:
        ids, logprobs, top = seq.ids, seq.logprobs, seq.top
        if seq.stop_at is not None:
            # Keep the tokens wholly before the stop string; the stop string (and a token straddling it) goes.
            keep = len(ids)
            while keep > 0 and len(self.decode(ids[:keep])) > seq.stop_at:
                keep -= 1
            text = self.decode(ids)[: seq.stop_at]
            ids, logprobs, top = ids[:keep], logprobs[:keep], top[:keep]
        else:
            text = self.decode(ids)
        return Generation(
            text=text,
            token_ids=list(ids),
            logprobs=list(logprobs),
            top_logprobs=list(top) if seq.job.options.top_logprobs else None,
            finish_reason=seq.finish or "stop",
            prompt_tokens=len(seq.job.prepared.ids),
        )


def _matcher(job: _Job) -> Any:
    if job.prepared.grammar is None:
        return None
    import xgrammar

    return xgrammar.GrammarMatcher(job.prepared.grammar)


def _chain(job: _Job) -> Any:
    """A fresh chain of the job's logits processors for one of its sequences (None when it has none)."""
    if not job.processors:
        return None
    from transformers import LogitsProcessorList

    return LogitsProcessorList(factory() for factory in job.processors)


def _mask_grammar(logits: torch.Tensor, seqs: list[_Seq], rows: list[int]) -> None:
    """Set to -inf, in place, the logits of every token that would take a constrained row off its grammar."""
    import xgrammar

    vocab = logits.shape[1]
    bitmask = xgrammar.allocate_token_bitmask(len(rows), vocab)
    for number, seq in enumerate(seqs):
        seq.matcher.fill_next_token_bitmask(bitmask, number)
    picked = logits[rows].cpu()
    xgrammar.apply_token_bitmask_inplace(picked, bitmask, vocab_size=vocab)
    logits[rows] = picked.to(logits.device)


def _common(one: Sequence[int], other: Sequence[int]) -> int:
    """The length of the common prefix of two token lists."""
    count = 0
    for a, b in zip(one, other):  # noqa: B905 (stops at the shorter, as wanted)
        if a != b:
            break
        count += 1
    return count


def _generator(seed: int | None, index: int) -> torch.Generator:
    """The generator of one sample: seeded from the request's seed and the sample's index, else from the system."""
    generator = torch.Generator()
    if seed is None:
        generator.manual_seed(int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1))
    else:
        generator.manual_seed((int(seed) * 1_000_003 + index) & ((1 << 63) - 1))
    return generator


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()
