"""Fixtures of the diagnosis tests."""

from __future__ import annotations

import torch

# Tiny models: one intra-op thread is faster than two, and far faster on a busy machine (see tests/trainer).
torch.set_num_threads(1)
