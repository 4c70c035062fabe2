"""A model file exported to formats that run without trainwell: torch.export (`.pt2`) and ONNX.

Both take the user's raw rows: the training split's normalization is part of the graph (and, for a
regression target, the target's de-standardization), so `model(raw_rows)` answers logits for each class
label, or values in the target's own units.

`.pt2` rather than TorchScript: `torch.export.save`/`torch.export.load` is PyTorch's maintained
serialization and loads on a plain `pip install torch`; TorchScript (`torch.jit`) is deprecated
(https://docs.pytorch.org/docs/stable/jit.html). ONNX goes through `torch.onnx.export`'s torch.export-based
exporter (it needs the `onnx` and `onnxscript` packages) and runs in onnxruntime alone.

`torch.onnx.export` builds its table of ONNX translations from onnxscript's torchlib on every call: 0.7–2 s
of an export of these small models, whatever their size. `onnx_registry()` builds it once per process
and hands it to the function `torch.onnx.export` calls with it (`torch.onnx._internal.exporter._core.export`,
the exporter's own entry point, not a public one); the worker builds it before forking each export, so the
forks share it. Where a torch release moves that function, the public `torch.onnx.export` runs instead.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    output = "values" if card.task == "regression" else "logits"
    # onnxruntime optimizes the graph itself when it loads it (its graph optimizations, on by default):
    # the exporter's own pass adds ~0.5 s to every export of these small models for nothing
    options: dict[str, Any] = {
        "input_names": ["rows"],
        "output_names": [output],
        "dynamic_shapes": _dynamic_batch(),
        "opset_version": ONNX_OPSET,
        "optimize": False,
        "verbose": False,
    }
    registry = onnx_registry()
    if registry is None:
        torch.onnx.export(model, _example(card), str(path), dynamo=True, external_data=False, **options)
        return
    from torch.onnx._internal.exporter import _core

    program = _core.export(model, _example(card), registry=registry, **options)
    program.save(str(path), external_data=False)


@functools.cache
def onnx_registry() -> Any | None:
    """The exporter's ONNX translations for ONNX_OPSET, built once per process (see the module docstring);
    None where this torch has no such entry point."""
    try:
        from torch.onnx._internal.exporter import _core, _registration
    except ImportError:
        return None
    if not callable(getattr(_core, "export", None)) or not hasattr(_registration.ONNXRegistry, "from_torchlib"):
        return None
    return _registration.ONNXRegistry.from_torchlib(opset_version=ONNX_OPSET)
