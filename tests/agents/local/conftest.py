"""Tiny models built from configs into temporary folders, loaded by path as a user's checkpoint is.

Built once per session (the tokenizer training and the save take about 3 s), and one engine on the text model is
shared by the tests that only generate (loading costs about 0.3 s more per test otherwise).
"""

from __future__ import annotations

import importlib.util

import pytest

from .tiny import build_llava, build_lm

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
    # Without the [local] extra there is nothing to test here (the rest of the suite does not need it).
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def lm_path(tmp_path_factory: pytest.TempPathFactory):
    return build_lm(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="session")
def llava_path(tmp_path_factory: pytest.TempPathFactory):
    return build_llava(tmp_path_factory.mktemp("models") / "tiny-llava")


@pytest.fixture(scope="session")
def engine(lm_path):
    from simyard.agents.backends.local import TransformersEngine

    engine = TransformersEngine(lm_path, max_batch=16)
    yield engine
    engine.close()
