"""Builders for tiny real training runs: a spec from a few overrides, callbacks that remember everything."""

from __future__ import annotations

from typing import Any

from trainer import Callbacks, EpochRecord, FitResult, fit
from trainwell.spec import JobSpec


def make_spec(dataset: str = "moons", /, **overrides: Any) -> JobSpec:
    """A small, fast spec; nested dicts in `overrides` are merged into the defaults below."""
    spec: dict[str, Any] = {
        "dataset": {"name": dataset},
        "model": {"hidden": [16]},
        "optimizer": {"name": "adam", "lr": 0.01},
        "batch_size": 32,
        "epochs": 5,
    }
    if dataset in ("moons", "circles", "spirals", "blobs", "xor", "sine"):
        spec["dataset"]["n_samples"] = 300
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return JobSpec.model_validate(spec)


class Recorder(Callbacks):
    """Keeps every record; asks to stop once (fold, epoch) `stop_after` is reported, or at poll `stop_at_step`."""

    def __init__(self, stop_after: tuple[int, int] | None = None, stop_at_step: int | None = None) -> None:
        self.records: list[EpochRecord] = []
        self.started: dict[str, int] | None = None
        self.stop_after, self.stop_at_step = stop_after, stop_at_step
        self.polls = 0

    def on_fit_start(self, *, folds: int, epochs: int) -> None:
        self.started = {"folds": folds, "epochs": epochs}

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.records.append(record)

    def should_stop(self) -> bool:
        self.polls += 1
        if self.stop_at_step is not None and self.polls >= self.stop_at_step:
            return True
        return any((r.fold, r.epoch) == self.stop_after for r in self.records)

    def series(self, name: str, fold: int = 0) -> list[float]:
        return [r.metrics[name] for r in self.records if r.fold == fold]


def train(spec: JobSpec, **kwargs: Any) -> tuple[FitResult, Recorder]:
    recorder = kwargs.pop("callbacks", None) or Recorder()
    return fit(spec, recorder, **kwargs), recorder
