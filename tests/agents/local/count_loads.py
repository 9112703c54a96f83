"""A `--import` plugin for the bench test: every process that loads a local model appends its pid to a file."""

from __future__ import annotations

import os

from simyard.agents.backends.local import TransformersEngine

_original = TransformersEngine.__init__


def _counting(self, *args, **kwargs):
    _original(self, *args, **kwargs)
    if os.environ.get("SIMYARD_TEST_LOAD_LOG"):
        with open(os.environ["SIMYARD_TEST_LOAD_LOG"], "a") as log:
            log.write(f"{os.getpid()}\n")


if TransformersEngine.__init__ is not _counting and not getattr(TransformersEngine, "_counted", False):
    TransformersEngine._counted = True
    TransformersEngine.__init__ = _counting
