"""The batcher's preallocated per-slot KV cache and its per-request logits processors, on the tiny Llama."""

from __future__ import annotations

import time

import torch

from simyard.agents.backends.engine import Request, SamplingOptions
from simyard.agents.backends.local import TransformersEngine


def chat(text: str) -> list[dict]:
    return [{"role": "system", "content": "You push boxes."}, {"role": "user", "content": text}]


class Ban:
    """A logits processor that forbids one token (a stand-in for a method's per-episode post-processing)."""

    def __init__(self, token: int) -> None:
        self.token = token

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.clone()
        scores[:, self.token] = -float("inf")
        return scores


def test_rows_joining_leaving_and_outgrowing_the_cache_decode_as_they_do_alone(lm_path) -> None:
    engine = TransformersEngine(lm_path, max_batch=4)
    eos = engine.eos_ids()
    never_stop = [lambda: Ban(eos[0])]  # so the long row really runs past the cache's first capacity
    try:
        long = Request(chat("go"), SamplingOptions(max_tokens=300), never_stop)
        short = Request(chat("push"), SamplingOptions(max_tokens=4), never_stop)
        late = Request(chat("push the box onto the target " * 30), SamplingOptions(max_tokens=20), never_stop)
        middle = Request(chat("left or right?"), SamplingOptions(max_tokens=40), never_stop)
        alone = [engine.generate_sync(request)[0].token_ids for request in (long, short, late, middle)]
        assert len(alone[0]) == 300

        def submit(request: Request):
            return engine.batcher.submit(engine.prepare(request.messages), request.options,
                                         processors=request.logits_processors)

        futures = [submit(long), submit(short)]
        while engine.batcher.stats.tokens < sum(len(ids) for ids in alone) + 10:  # the first two are decoding
            time.sleep(0.001)
        # A prompt longer than the running window joins (the window moves right), then a short one; `short`
        # leaves after 4 tokens and a later row moves into its slot.
        futures += [submit(late), submit(middle)]
        batched = [future.result(timeout=120)[0].token_ids for future in futures]
        assert batched == alone
        slots = engine.batcher._slots
        # Preallocated: a handful of reallocations (growth, the longer prompt), not one per token.
        assert 1 <= slots.reallocations <= 4
        assert slots.rows == 0
    finally:
        engine.close()


def test_a_logits_processor_is_honoured_for_its_own_request_only(engine) -> None:
    prompt = chat("push the box")
    [plain] = engine.generate_sync(Request(prompt, SamplingOptions(max_tokens=8)))
    banned = plain.token_ids[0]
    calls = []

    def factory() -> Ban:
        calls.append(1)
        return Ban(banned)

    def submit(request: Request):
        return engine.batcher.submit(engine.prepare(request.messages), request.options,
                                     processors=request.logits_processors)

    futures = [
        submit(Request(prompt, SamplingOptions(max_tokens=8))),
        submit(Request(prompt, SamplingOptions(max_tokens=8, n=2, logprobs=True), [factory])),
        submit(Request(prompt, SamplingOptions(max_tokens=8))),
    ]
    free_one, (first, second), free_two = (future.result(timeout=60) for future in futures)
    assert free_one[0].token_ids == plain.token_ids == free_two[0].token_ids
    for processed in (first, second):
        assert banned not in processed.token_ids
        assert processed.token_ids[0] != plain.token_ids[0]
    assert len(calls) == 2, "the factory is called once per sequence"


def test_a_failing_logits_processor_fails_its_request_and_not_the_batch(engine) -> None:
    def broken() -> object:
        def fail(input_ids, scores):
            raise ValueError("broken processor")

        return fail

    prompt = chat("push the box")
    bad = engine.batcher.submit(engine.prepare(prompt), SamplingOptions(max_tokens=8), processors=[broken])
    good = engine.batcher.submit(engine.prepare(prompt), SamplingOptions(max_tokens=8))
    assert len(good.result(timeout=60)[0].token_ids) >= 1
    try:
        bad.result(timeout=60)
    except ValueError as exc:
        assert "broken processor" in str(exc)
    else:
        raise AssertionError("the broken processor's request succeeded")
    [after] = engine.generate_sync(Request(prompt, SamplingOptions(max_tokens=4)))
    assert after.token_ids


def test_cancelling_frees_a_running_slot_for_the_waiting_request_and_a_waiting_one_never_starts(lm_path) -> None:
    engine = TransformersEngine(lm_path, max_batch=1)
    try:
        batcher = engine.batcher
        options = SamplingOptions(max_tokens=400)
        never_stop = [lambda: Ban(engine.eos_ids()[0])]
        running = batcher.submit(engine.prepare(chat("a long answer")), options, processors=never_stop)
        dropped = batcher.submit(engine.prepare(chat("never asked")), options)
        waiting = batcher.submit(engine.prepare(chat("next")), SamplingOptions(max_tokens=3))
        while not batcher.running:
            time.sleep(0.001)
        batcher.cancel(dropped)
        batcher.cancel(running)
        assert len(waiting.result(timeout=60)[0].token_ids) == 3, "the freed slot went to the waiting request"
        assert running.exception(timeout=5).__class__.__name__ == "CancelledError" and dropped.cancelled()
        assert batcher.stats.requests == 2 and batcher.stats.cancelled == 1
        assert batcher.stats.tokens < 400
    finally:
        engine.close()


def test_a_contrastive_processor_rides_the_batch_per_request(engine) -> None:
    import asyncio

    from simyard.agents.backends.internals import ContrastiveLogitsProcessor

    prompt = [{"role": "user", "content": "push the box"}]
    perturbed = torch.tensor([engine.prepare([{"role": "user", "content": "push"}]).ids])

    def contrast(alpha: float):
        return lambda: ContrastiveLogitsProcessor(engine.model, {"input_ids": perturbed}, alpha=alpha)

    async def together():
        return await asyncio.gather(
            engine.generate(Request(prompt, SamplingOptions(max_tokens=10))),
            engine.generate(Request(prompt, SamplingOptions(max_tokens=10), [contrast(0.0)])),
            engine.generate(Request(prompt, SamplingOptions(max_tokens=10), [contrast(2.0)])),
        )

    [plain], [identity], [contrasted] = asyncio.run(together())
    assert identity.token_ids == plain.token_ids  # alpha 0 is the identity
    assert contrasted.token_ids != plain.token_ids


def test_a_failing_processor_factory_fails_its_request_alone(engine) -> None:
    def factory() -> object:
        raise RuntimeError("no processor today")

    prompt = chat("push the box")
    bad = engine.batcher.submit(engine.prepare(prompt), SamplingOptions(max_tokens=4), processors=[factory])
    good = engine.batcher.submit(engine.prepare(prompt), SamplingOptions(max_tokens=4))
    assert len(good.result(timeout=60)[0].token_ids) == 4
    assert "no processor today" in str(bad.exception(timeout=60))
