"""Fixtures of the trainer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# The models here are tiny: one intra-op thread is faster than two, and far faster when other test
# processes share the cores (OpenMP threads spin at every barrier, so a busy core stalls them all).
torch.set_num_threads(1)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A worker data directory with its (empty) uploaded-datasets folder."""
    (tmp_path / "datasets").mkdir()
    return tmp_path
