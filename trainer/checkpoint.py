"""Epoch checkpoints: a plain dict of tensors and primitives, written atomically, loaded without unpickling code.

`torch.load(weights_only=True)` refuses arbitrary objects, so every RNG state is stored as a tensor or a
list, and results as plain dicts. A crash mid-write leaves the previous checkpoint intact: the new
one is written to a temporary file, fsynced, then renamed over the old one (os.replace is atomic).

A run that may be attempted several times (a worker lost, the job requeued) names its attempt: each
attempt writes its own `attempt-<n>.pt` and resumes from the newest earlier attempt's, so an attempt
that was superseded but still runs (a paused process that woke up) can only overwrite its own file,
never the one a newer attempt resumed from or writes. Without an attempt the file is `last.pt`.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_NAME = "last.pt"
ATTEMPT_NAME = re.compile(r"attempt-(\d+)\.pt")
FORMAT = 1


def checkpoint_path(directory: Path, attempt: int | None = None) -> Path:
    """Where a run writes its checkpoint: `attempt-<n>.pt` for attempt n, else `last.pt`."""
    return directory / (f"attempt-{attempt}.pt" if attempt is not None else CHECKPOINT_NAME)


def newest_checkpoint(directory: Path, *, before: int | None = None) -> Path | None:
    """The checkpoint of the newest attempt in `directory` (only attempts < `before`, when given),
    else `last.pt`; None when there is none."""
    attempts = []
    if directory.is_dir():
        for path in directory.iterdir():
            match = ATTEMPT_NAME.fullmatch(path.name)
            if match is not None and (before is None or int(match.group(1)) < before):
                attempts.append((int(match.group(1)), path))
    if attempts:
        return max(attempts)[1]
    last = directory / CHECKPOINT_NAME
    return last if last.is_file() else None


def prune_checkpoints(directory: Path, *, keep: int) -> list[Path]:
    """Remove every attempt's checkpoint but attempt `keep`'s, and any unfinished write: once a job has
    ended, only its final attempt's checkpoint can be resumed from or read (the landscape's); the rest
    is disk. Returns what was removed."""
    removed = []
    if directory.is_dir():
        for path in directory.iterdir():
            match = ATTEMPT_NAME.fullmatch(path.name)
            if (match is not None and int(match.group(1)) != keep) or path.name.endswith(".pt.tmp"):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        torch.save({"format": FORMAT, **state}, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path} has format {state.get('format')!r}; this trainer reads format {FORMAT}")
    return state


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)  # also seeds every CUDA device
    np.random.seed(seed % 2**32)
    random.seed(seed)


def rng_state() -> dict[str, Any]:
    """Every random generator the loop may touch, as tensors and lists."""
    numpy_state = np.random.get_state(legacy=False)
    version, python_state, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "python": [version, list(python_state), gauss],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    version, python_state, gauss = state["python"]
    random.setstate((version, tuple(python_state), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
