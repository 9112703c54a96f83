"""Model internals for the methods that need more than text: attention logits, hidden states, next-token logits.

AdaptVis/ScalingVis change the attention logits on image tokens; CoDa, CAD and VCD contrast next-token logits with a
perturbed input; StarPO and other RL recipes need differentiable log-probabilities of the sampled ids. This module is
the public face for all of them (the `[local]` extra: torch, transformers); the machinery lives in `hooks/`.

Attention hooks go through transformers' own attention interface, never by patching the library: `register()` adds
an attention function named `simyard_hooked` (eager attention with a gap for hooks between `QKᵀ·scale` and the
softmax), and `attention_hooks` switches the model's text decoder to it for a `with` block and back afterwards::

    from simyard.agents.backends.internals import attention_hooks

    def halve_first_four(call):       # call.scores: (batch, heads, queries, keys), before the mask is added
        scores = call.scores.clone()
        scores[..., :4] *= 0.5        # call.query_positions / call.key_positions say which slots these are
        return scores                 # or None to leave them

    with attention_hooks(model, {0: halve_first_four}, record=[0], hidden=[1]) as rec:
        out = model(**inputs)
    rec.probs[0][0]    # layer 0's attention weights in the first forward pass (after the hook)
    rec.hidden[1][0]   # layer 1's output hidden states, (batch, tokens, hidden_size)

To load a model with the hooked attention from the start (it computes plain eager attention outside a block)::

    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation=register())

AdaptVis, as released (last prompt row, image columns, all layers, prefill only)::

    mask = image_token_mask(inputs["input_ids"], model.config.image_token_id)
    alpha = adaptive_alpha(first_token_confidence(first_logits), threshold=0.4, smooth=0.5, sharpen=1.5)
    with adaptvis(model, mask, alpha):
        out = model.generate(**inputs, max_new_tokens=100, do_sample=False)

Contrastive decoding and sampling, as a `LogitsProcessorList` for `generate` or the local engine::

    contrast = ContrastiveLogitsProcessor(model, tokenizer(perturbed, return_tensors="pt"), alpha=1.0, plausibility=0.1)
    chain = sampling_chain(temperature=0.7, top_p=0.9, first=[contrast])
    out = model.generate(**inputs, logits_processor=chain, do_sample=True)

In the local engine, per episode while batched with everything else in flight: `Request.logits_processors` takes
factories, called once per sequence (a contrast keeps per-sequence state); the engine samples with its own
temperature and top-p after them, so pass only the method's processors::

    def contrast():
        return ContrastiveLogitsProcessor(engine.model, perturbed_inputs, alpha=1.0, plausibility=0.1)

    [reply] = await engine.generate(Request(messages, options, logits_processors=[contrast]))

Limits: hooks see the language model's attention only (not a vision tower's); positions are cache slots (pad slots
included); models with attention sinks are refused; a model whose attention does not dispatch through
`AttentionInterface` cannot be switched (a `BackendError` says so).
"""

from simyard.platform.errors import require

require("torch", "local")
require("transformers", "local")

from simyard.agents.backends.hooks.adaptvis import (  # noqa: E402
    KeySpan,
    adaptive_alpha,
    adaptvis,
    first_token_confidence,
    image_token_mask,
    scale_attention,
)
from simyard.agents.backends.hooks.attention import (  # noqa: E402
    HOOKED,
    AttentionCall,
    Hook,
    Record,
    attention_hooks,
    hooked_attention_forward,
    register,
)
from simyard.agents.backends.hooks.layers import capture_hidden_states, decoder_layers, text_decoder  # noqa: E402
from simyard.agents.backends.hooks.logits import (  # noqa: E402
    ContrastiveLogitsProcessor,
    apply_row_chains,
    sampling_chain,
)
from simyard.agents.backends.hooks.logprobs import token_logprobs  # noqa: E402

__all__ = [
    "HOOKED",
    "AttentionCall",
    "ContrastiveLogitsProcessor",
    "Hook",
    "KeySpan",
    "Record",
    "adaptive_alpha",
    "adaptvis",
    "apply_row_chains",
    "attention_hooks",
    "capture_hidden_states",
    "decoder_layers",
    "first_token_confidence",
    "hooked_attention_forward",
    "image_token_mask",
    "register",
    "sampling_chain",
    "scale_attention",
    "text_decoder",
    "token_logprobs",
]
