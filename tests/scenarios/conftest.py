"""Fixtures of the scenario suite."""

from __future__ import annotations

import torch

torch.set_num_threads(1)  # tiny models: one thread is fastest, and steady on a busy machine
