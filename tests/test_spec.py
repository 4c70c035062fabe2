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
        # splits that could never be cut: sklearn's errors after queueing, refused here instead
        ({"dataset": {"name": "iris", "test_fraction": 1e-9}}, "leave 1 test row(s) for 3 classes"),
        ({"dataset": {"name": "moons", "n_samples": 20, "validation": {"kfold": 20}}}, "validation.kfold: 20 rows"),
        ({"dataset": {"name": "digits", "seed": 84554741929}}, "less than or equal to 4294967295"),
        ({"seed": 2**32}, "less than or equal to 4294967295"),
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


def test_split_sizes_are_scikit_learns() -> None:
    """The sizes the submission checks are the ones trainer/splits.py will cut."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from trainwell.split_sizes import split_sizes

    for rows, test_fraction, holdout in [(150, 0.2, 0.2), (33, 0.01, 0.5), (1797, 0.33, 0.05), (20, 0.5, 0.3)]:
        dev, test = train_test_split(np.arange(rows), test_size=test_fraction, random_state=0)
        train, val = train_test_split(dev, test_size=holdout, random_state=0)
        sizes = split_sizes(rows, test_fraction=test_fraction, holdout=holdout, kfold=None)
        assert (sizes.train, sizes.validation, sizes.test) == (len(train), len(val), len(test))
