"""What a trained model's file says about its weights: the safetensors header trainwell writes beside them.

The JobSpec the weights were trained with, the input features' names and their training-split
normalization, the class labels in the user's own strings (or the regression target's name and scale),
the epoch the weights come from, and the trainwell version that wrote them. safetensors metadata is
string → string, so every value is JSON text (floats written by `json` round-trip exactly); `spec` is the
JobSpec's own JSON, and `format` names this layout.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass

from trainwell.spec import JobSpec, Task

FILE_FORMAT = "trainwell-model/1"


@dataclass(frozen=True)
class ModelCard:
    """What a model file says about its weights, beside them."""

    spec: JobSpec
    task: Task
    features: list[str]
    feature_norm: str  # none | standard | minmax, as the spec chose
    feature_shift: list[float]  # a model sees (raw - shift) / scale
    feature_scale: list[float]
    labels: list[str] | None  # classification: the label of each output unit
    target: str | None  # the target column's name (None for a built-in dataset without one)
    target_shift: float  # regression: a value is shift + scale * output
    target_scale: float
    epoch: int  # the epoch the weights come from: the best one when early stopping restored it, else the last
    metrics: dict[str, float]  # that epoch's metrics, as the job reported them
    input_dim: int
    output_dim: int
    image_shape: tuple[int, int, int] | None
    version: str  # of trainwell

    def metadata(self) -> dict[str, str]:
        fields = {
            "task": self.task,
            "features": self.features,
            "normalization": {"kind": self.feature_norm, "shift": self.feature_shift, "scale": self.feature_scale},
            "labels": self.labels,
            "target": {"name": self.target, "shift": self.target_shift, "scale": self.target_scale},
            "epoch": self.epoch,
            "metrics": self.metrics,
            "shape": {"input": self.input_dim, "output": self.output_dim, "image": self.image_shape},
            "trainwell_version": self.version,
        }
        plain = {"format": FILE_FORMAT, "spec": self.spec.model_dump_json()}
        return {**plain, **{name: json.dumps(value) for name, value in fields.items()}}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> ModelCard:
        if metadata.get("format") != FILE_FORMAT:
            raise ValueError(f"not a trainwell model file (format {metadata.get('format')!r}, expected {FILE_FORMAT})")
        value = {name: json.loads(text) for name, text in metadata.items() if name not in ("format", "spec")}
        norm, target, shape = value["normalization"], value["target"], value["shape"]
        return cls(
            spec=JobSpec.model_validate_json(metadata["spec"]),
            task=value["task"],
            features=value["features"],
            feature_norm=norm["kind"],
            feature_shift=norm["shift"],
            feature_scale=norm["scale"],
            labels=value["labels"],
            target=target["name"],
            target_shift=target["shift"],
            target_scale=target["scale"],
            epoch=value["epoch"],
            metrics=value["metrics"],
            input_dim=shape["input"],
            output_dim=shape["output"],
            image_shape=tuple(shape["image"]) if shape["image"] is not None else None,
            version=value["trainwell_version"],
        )


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    """A safetensors model file's card, read from its header alone (no torch, no safetensors): the file
    opens with the header's length as a little-endian u64, then the header's JSON, whose `__metadata__` holds
    the card (https://huggingface.co/docs/safetensors#format)."""
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    return ModelCard.from_metadata(header.get("__metadata__") or {})
