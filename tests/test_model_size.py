"""The API's parameter count (from the spec, no torch) equals the trainer's real model's."""

from __future__ import annotations

import pytest

from trainer.datasets import load_dataset
from trainer.models import build_model
from trainwell.model_size import DATASET_SHAPES, count_parameters
from trainwell.spec import JobSpec


@pytest.mark.parametrize("name", sorted(DATASET_SHAPES))
def test_dataset_shapes_match_what_the_trainer_loads(name: str) -> None:
    data = load_dataset(JobSpec.model_validate({"dataset": {"name": name}}).dataset)
    shape = DATASET_SHAPES[name]
    assert (data.X.shape[1], data.output_dim, data.image_shape) == (shape.features, shape.outputs, shape.image)


@pytest.mark.parametrize(
    "model",
    [
        {"hidden": []},
        {"hidden": [128, 128], "norm": "batch"},
        {"hidden": [7, 5, 3], "norm": "layer", "norm_position": "after_activation", "dropout": 0.2},
        {"kind": "cnn", "channels": [4, 8], "hidden": [16], "norm": "batch"},
        {"kind": "cnn", "channels": [3], "hidden": [], "norm": "layer"},
    ],
)
def test_count_parameters_matches_the_real_model(model: dict[str, object]) -> None:
    spec = JobSpec.model_validate({"dataset": {"name": "digits"}, "model": model})
    shape = DATASET_SHAPES["digits"]
    real = build_model(spec.model, shape.features, shape.outputs, shape.image)
    assert count_parameters(spec, shape) == sum(p.numel() for p in real.parameters())
