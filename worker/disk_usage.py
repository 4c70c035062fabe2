"""What a job's checkpoint directory holds that its row counts as checkpoints: its epoch checkpoints (one
per attempt, trainer/checkpoint.py) and its model file. The exports beside them are counted by their own
rows (store/stored_bytes.py), and a write in progress (`*.tmp`) is not stored yet."""

from __future__ import annotations

import os
from pathlib import Path

from trainer.checkpoint import ATTEMPT_NAME, CHECKPOINT_NAME
from trainer.model_file import MODEL_FILE


def checkpoint_bytes(directory: Path) -> int:
    """The bytes of the directory's checkpoints and model file; 0 when it does not exist."""
    total = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                name = entry.name
                if name in (CHECKPOINT_NAME, MODEL_FILE) or ATTEMPT_NAME.fullmatch(name):
                    try:
                        total += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:  # pruned meanwhile
                        continue
    except FileNotFoundError:
        return 0
    return total
