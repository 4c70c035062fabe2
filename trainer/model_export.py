"""A model file exported to formats that run without trainwell: torch.export (`.pt2`) and ONNX.

Both take the user's raw rows: the training split's normalization is part of the graph (and, for a
regression target, the target's de-standardization), so `model(raw_rows)` answers logits for each class
label, or values in the target's own units.

`.pt2` rather than TorchScript: `torch.export.save`/`torch.export.load` is PyTorch's maintained
serialization and loads on a plain `pip install torch`; TorchScript (`torch.jit`) is deprecated
(https://docs.pytorch.org/docs/stable/jit.html). ONNX goes through `torch.onnx.export`'s torch.export-based
exporter (it needs the `onnx` and `onnxscript` packages) and runs in onnxruntime alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from trainwell.model_card import ModelCard
from trainwell.model_formats import MODEL_FORMATS
from trainwell.torch_model import RawRowsModel, load_model

ONNX_OPSET = 18  # the opset torch.onnx's exporter targets by default; onnxruntime ≥ 1.14 runs it


def export_model(model_file: Path, export_format: str) -> Path:
    """Write `export_format` beside `model_file` (atomically) and return its path; the safetensors file is
    the model file itself."""
    if export_format not in MODEL_FORMATS:
        raise ValueError(f"unknown format {export_format!r}; allowed: {', '.join(MODEL_FORMATS)}")
    target = model_file.with_name(MODEL_FORMATS[export_format].file_name)
    if export_format == "safetensors":
        return model_file
    model = load_model(model_file)
    card = model.card
    writers: dict[str, Callable[[RawRowsModel, ModelCard, Path], None]] = {"pt2": _write_pt2, "onnx": _write_onnx}
    temporary = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")  # .pt2 must end so
    try:
        writers[export_format](model, card, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _example(card: ModelCard) -> tuple[Tensor]:
    # two rows: torch.export specializes a dimension of size 1, and the batch size must stay free
    return (torch.zeros(2, card.input_dim),)


def _dynamic_batch() -> dict[str, dict[int, torch.export.Dim]]:
    return {"rows": {0: torch.export.Dim("rows")}}


def _write_pt2(model: RawRowsModel, card: ModelCard, path: Path) -> None:
    program = torch.export.export(model, _example(card), dynamic_shapes=_dynamic_batch())
    torch.export.save(program, str(path))


def _write_onnx(model: RawRowsModel, card: ModelCard, path: Path) -> None:
    torch.onnx.export(
        model,
        _example(card),
        str(path),
        input_names=["rows"],
        output_names=["values" if card.task == "regression" else "logits"],
        dynamic_shapes=_dynamic_batch(),
        opset_version=ONNX_OPSET,
        dynamo=True,
        # onnxruntime optimizes the graph itself when it loads it (its graph optimizations, on by default):
        # the exporter's own pass adds ~0.5 s to every export of these small models for nothing
        optimize=False,
        external_data=False,
        verbose=False,
    )
