"""The machinery behind `simyard.agents.backends.internals` (import from there): one module per job.

`attention` registers the hooked attention and binds hooks to a model, `layers` finds the decoder layers and captures
hidden states, `adaptvis` scales attention to image tokens, `logits` holds the logits processors, `logprobs` scores
ids for RL. Everything here needs the `[local]` extra (torch, transformers).
"""
