"""Constants and inputs shared by the internals tests (the models themselves are fixtures in conftest.py)."""

from __future__ import annotations

import torch

VOCAB = 96
IMAGE_TOKEN = VOCAB - 1
VIDEO_TOKEN, VISION_START, VISION_END = VOCAB - 2, VOCAB - 3, VOCAB - 4


def prompt(length: int = 12, batch: int = 1, seed: int = 0):
    """Random ids that avoid the special, image and vision ids."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, VOCAB - 4, (batch, length), generator=generator)
