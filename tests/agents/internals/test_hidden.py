"""Hidden states of chosen decoder layers, captured with forward hooks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from simyard.agents.backends.internals import attention_hooks, capture_hidden_states  # noqa: E402
from simyard.platform.errors import BackendError  # noqa: E402

from .tiny import prompt  # noqa: E402


def test_hidden_states_of_chosen_layers_have_the_model_shapes(lm):
    ids = prompt(7, batch=2)
    with capture_hidden_states(lm, [0, -1]) as hidden, torch.no_grad():
        out = lm(input_ids=ids, output_hidden_states=True)
    assert sorted(hidden) == [0, 1]
    assert [tuple(h.shape) for h in hidden[0]] == [(2, 7, lm.config.hidden_size)]
    assert [tuple(h.shape) for h in hidden[1]] == [(2, 7, lm.config.hidden_size)]
    assert torch.equal(hidden[0][0], out.hidden_states[1])


def test_hidden_states_come_one_per_forward_pass_while_generating(lm):
    with attention_hooks(lm, {}, hidden=[1]) as record:
        lm.generate(input_ids=prompt(5), max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert [tuple(h.shape[:2]) for h in record.hidden[1]] == [(1, 5), (1, 1), (1, 1)]


def test_the_forward_hooks_are_removed_after_the_block(lm):
    layer = lm.model.layers[0]
    before = len(layer._forward_hooks)
    with capture_hidden_states(lm, [0]):
        assert len(layer._forward_hooks) == before + 1
    assert len(layer._forward_hooks) == before


def test_a_hidden_layer_out_of_range_is_refused(lm):
    with pytest.raises(BackendError, match="no decoder layer 2"), capture_hidden_states(lm, [2]):
        pass
