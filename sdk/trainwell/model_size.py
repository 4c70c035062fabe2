"""A job's parameter count, computed from its spec alone (no torch), so the API can refuse
an oversized model before it is queued. `tests/test_model_size.py` checks it against the
trainer's real models."""

from __future__ import annotations

from dataclasses import dataclass

from trainwell.catalog import SHIPPED_DATASETS
from trainwell.spec import JobSpec, ModelSpec


@dataclass(frozen=True)
class DataShape:
    features: int
    outputs: int  # classes for classification, 1 for regression
    image: tuple[int, int, int] | None = None  # (channels, height, width)


# The shapes of the built-in and synthetic datasets as the trainer loads them.
DATASET_SHAPES: dict[str, DataShape] = {
    name: DataShape(d.features, d.outputs, d.image) for name, d in SHIPPED_DATASETS.items()
}


def _norm_parameters(model: ModelSpec, width: int) -> int:
    # BatchNorm and LayerNorm (GroupNorm for feature maps) each learn a scale and a shift per unit
    return 0 if model.norm == "none" else 2 * width


def _mlp_parameters(model: ModelSpec, inputs: int, outputs: int) -> int:
    total, width = 0, inputs
    for hidden in model.hidden:
        total += width * hidden + hidden + _norm_parameters(model, hidden)
        width = hidden
    return total + width * outputs + outputs


def count_parameters(spec: JobSpec, shape: DataShape) -> int:
    model = spec.model
    if model.kind == "mlp" or shape.image is None:
        return _mlp_parameters(model, shape.features, shape.outputs)
    channels, height, width = shape.image
    total = 0
    for out in model.channels:
        total += channels * out * 9 + out + _norm_parameters(model, out)  # 3×3 kernels
        channels = out
    return total + _mlp_parameters(model, channels * height * width, shape.outputs)
