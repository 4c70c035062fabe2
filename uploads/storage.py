"""The one writer under the data directory: the normalized npz, atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from uploads.normalize import NormalizedDataset


def write_dataset(dataset: NormalizedDataset, directory: Path) -> int:
    """Write `directory/<id>.npz` (X, y, task: the arrays trainer/datasets.py reads) unless it
    exists — the name is the content's hash — and return its size in bytes.

    The file is written beside its final name and renamed, so a reader (a worker starting a
    job) sees the whole file or none; a failed write leaves nothing behind.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dataset.id}.npz"
    if path.is_file():
        return path.stat().st_size
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, X=dataset.X, y=dataset.y, task=np.array(dataset.task))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return path.stat().st_size
