"""The formats a trained model downloads in: one definition for the API, the worker and the SDK.

- `safetensors`: the weights with a metadata header (JobSpec, features and their normalization, labels
  or target, epoch, trainwell version); `trainwell.load_model` rebuilds the module from it.
- `pt2`: a `torch.export` program (`torch.export.load`), raw rows in, logits or values out.
- `onnx`: the same graph for onnxruntime or any ONNX runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ModelFormatName = Literal["safetensors", "pt2", "onnx"]


@dataclass(frozen=True)
class ModelFormat:
    file_name: str  # beside the job's checkpoints; also the suffix of a download's file name
    media_type: str


MODEL_FORMATS: dict[str, ModelFormat] = {
    "safetensors": ModelFormat("model.safetensors", "application/octet-stream"),
    "pt2": ModelFormat("model.pt2", "application/zip"),  # torch.export.save writes a zip archive
    "onnx": ModelFormat("model.onnx", "application/octet-stream"),
}
