"""Builders for synthetic job records: a spec, data facts and per-epoch curves, without training anything."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from trainer.diagnose import DataFacts, JobRecord
from trainwell.limits import ServiceLimits
from trainwell.model_size import DATASET_SHAPES
from trainwell.spec import JobSpec

LN2 = math.log(2)


def make_spec(dataset: str = "moons", /, **overrides: Any) -> JobSpec:
    spec: dict[str, Any] = {"dataset": {"name": dataset}, "model": {"hidden": [64, 64]}, "epochs": 20}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return JobSpec.model_validate(spec)


def make_facts(**overrides: Any) -> DataFacts:
    facts = DataFacts(
        task="classification",
        loss="cross_entropy",
        trivial_loss=LN2,
        n_train=640,
        n_val=160,
        n_test=200,
        n_features=2,
        parameters=4500,
        steps_per_epoch=10,
        feature_scale_ratio=1.0,
        feature_scale=1.0,
        shape=DATASET_SHAPES["moons"],
    )
    return dataclasses.replace(facts, **overrides)


def decay(start: float, end: float, epochs: int, rate: float = 0.3) -> list[float]:
    """A smooth exponential descent from `start` towards `end`."""
    return [end + (start - end) * math.exp(-rate * epoch) for epoch in range(epochs)]


def healthy(epochs: int = 20) -> dict[str, list[float]]:
    """Curves of a run that fits well: losses fall together and level off low; instruments unremarkable."""
    return {
        "train_loss": decay(0.6, 0.05, epochs),
        "val_loss": decay(0.6, 0.07, epochs),
        "test_loss": decay(0.6, 0.075, epochs),
        "grad_norm_first": decay(0.3, 0.05, epochs),
        "grad_norm_last": decay(0.5, 0.08, epochs),
        "update_ratio": decay(0.3, 0.02, epochs),
        "dead_relu_fraction": [0.1] * epochs,
    }


def make_record(
    curves: dict[str, list[float]] | None = None,
    *,
    spec: JobSpec | None = None,
    facts: DataFacts | None = None,
    folds: list[dict[str, list[float]]] | None = None,
    diverged: str | None = None,
    limits: ServiceLimits | None = None,
    **curve_overrides: list[float],
) -> JobRecord:
    history = {i: fold for i, fold in enumerate(folds)} if folds else {0: {**(curves or healthy()), **curve_overrides}}
    return JobRecord(spec or make_spec(), facts or make_facts(), history, diverged, limits)
