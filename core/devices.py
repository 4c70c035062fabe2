"""The GPUs a host offers, read without initialising CUDA: a worker's parent process must never touch
CUDA (its forked job processes could not use it), and the API and `make run` never import torch."""

from __future__ import annotations

import os
from pathlib import Path

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one directory per GPU the NVIDIA driver sees


def gpu_names() -> list[str]:
    """The model names of the GPUs this process may use (CUDA_VISIBLE_DEVICES narrows them)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return []
    names = []
    for entry in sorted(NVIDIA_GPUS.glob("*/information")) if NVIDIA_GPUS.is_dir() else []:
        model = next((line for line in entry.read_text().splitlines() if line.startswith("Model:")), "Model: GPU")
        names.append(model.split(":", 1)[1].strip())
    if visible is not None:
        count = len([part for part in visible.split(",") if part.strip()])
        names = names[:count]
    return names


def devices() -> list[dict[str, object]]:
    """What a worker on this host can train on, as GET /v1/workers lists it."""
    found: list[dict[str, object]] = [{"kind": "cpu", "name": "cpu", "count": os.cpu_count() or 1}]
    found += [{"kind": "cuda", "name": name, "index": index} for index, name in enumerate(gpu_names())]
    return found
