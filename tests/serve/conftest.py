"""A tiny LM and a tiny VLM (built from configs, saved, loaded by path as a user's checkpoint is) behind `simyard
serve`'s app on uvicorn in a thread, on 127.0.0.1 and a free port; every server is stopped by its fixture."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

import openai  # noqa: E402

from simyard.agents.backends.local import TransformersEngine  # noqa: E402
from simyard.serve.app import BackgroundServer  # noqa: E402
from tests.agents.local.tiny import build_llava, build_lm  # noqa: E402

NAME = "tiny"


@pytest.fixture(scope="session")
def lm_path(tmp_path_factory):
    return build_lm(tmp_path_factory.mktemp("serve") / "tiny-lm")


@pytest.fixture(scope="session")
def engine(lm_path):
    loaded = TransformersEngine(lm_path, device="cpu", max_batch=32)
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def server(engine):
    with BackgroundServer(engine, NAME) as running:
        yield running


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=60) as made:
        yield made


@pytest.fixture(scope="session")
def vlm_engine(tmp_path_factory):
    loaded = TransformersEngine(build_llava(tmp_path_factory.mktemp("serve") / "tiny-llava"), device="cpu")
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def vlm_server(vlm_engine):
    with BackgroundServer(vlm_engine, "tiny-vlm") as running:
        yield running
