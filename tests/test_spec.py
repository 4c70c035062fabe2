"""The one JobSpec: defaults, and errors that name the field and the allowed values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trainwell.spec import JobSpec


def test_every_field_but_the_dataset_has_a_default() -> None:
    spec = JobSpec.model_validate({"dataset": {"name": "digits"}})
    assert spec.optimizer.name == "adam" and spec.batch_size == 64 and spec.dataset.validation.holdout == 0.2
    assert spec.resolved_loss("classification") == "cross_entropy"
    assert JobSpec.model_validate({"dataset": {"name": "diabetes"}}).resolved_loss("regression") == "mse"


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"dataset": {"name": "mnist"}}, "available: blobs, breast_cancer, circles, diabetes, digits"),
        ({"optimizer": {"name": "lbfgs"}}, "'sgd', 'adagrad', 'rmsprop', 'adam' or 'adamw'"),
        ({"optimizer": {"name": "adam", "nesterov": True}}, "nesterov requires optimizer sgd"),
        ({"loss": "huber"}, "allowed: cross_entropy, mse"),
        ({"model": {"kind": "cnn"}, "dataset": {"name": "iris"}}, "needs image-shaped data"),
        ({"dataset": {"name": "iris", "noise": 0.1}}, "noise applies to synthetic datasets only"),
        ({"batch_size": 0}, "greater than or equal to 1"),
        ({"epochs": 3, "learning_rate": 0.1}, "learning_rate"),
    ],
)
def test_invalid_specs_say_what_is_wrong(patch: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError) as error:
        JobSpec.model_validate({"dataset": {"name": "digits"}, **patch})
    assert needle in str(error.value)


def test_kfold_and_uploaded_ids() -> None:
    spec = JobSpec.model_validate({"dataset": {"name": "ds_0123456789abcdef", "validation": {"kfold": 5}}})
    assert spec.dataset.validation.kfold == 5  # type: ignore[union-attr]
    assert spec.dataset.task is None  # known to the server only
