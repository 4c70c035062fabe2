"""The metric history of a job as the rules read it, and the few statistics they share.

A job's history is fold → metric name → per-epoch values, as the worker collects it from `EpochRecord`s.
The rules read the epoch-aligned mean over folds (a k-fold job's folds train the same spec on
different rows, so their mean curve is the job's curve) and the spread across folds as its noise.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field

from trainer.diagnose.facts import DataFacts
from trainwell.limits import ServiceLimits
from trainwell.metrics import MetricName
from trainwell.spec import JobSpec

History = dict[int, dict[str, list[float]]]

TRAIN, VAL, TEST = MetricName.train_loss.value, MetricName.val_loss.value, MetricName.test_loss.value


@dataclass(frozen=True)
class JobRecord:
    """Everything a rule may read: the spec, the data facts, the metric history (plain values, no torch) and
    the limits a remedy must stay within."""

    spec: JobSpec
    facts: DataFacts
    history: History
    diverged_message: str | None = None  # set when the loss became NaN/Inf (the fit's one-line message)
    # what a launched remedy or probe may ask for here; None: only the JobSpec schema's bounds apply
    limits: ServiceLimits | None = None
    curves: dict[str, list[float]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "curves", mean_curves(self.history))

    def series(self, name: str) -> list[float]:
        return self.curves.get(name, [])

    @property
    def epochs(self) -> int:
        return len(self.series(TRAIN))

    @property
    def end(self) -> int:
        """0-based index of the epoch whose weights the job ended with: the best one under early stopping."""
        val = self.series(VAL)
        if self.spec.early_stopping is not None and val:
            return min(range(len(val)), key=val.__getitem__)
        return self.epochs - 1

    def at_end(self, name: str) -> float | None:
        values = self.series(name)
        return values[self.end] if 0 <= self.end < len(values) else None

    def fit_ratio(self) -> float | None:
        """The loss the model reaches (the lower of training and validation) over the trivial predictor's.

        The lower of the two: dropout, augmentation and label noise inflate the training loss alone, and a
        model that predicts validation rows well is not short of capacity, whatever its training loss.
        """
        train, val = self.at_end(TRAIN), self.at_end(VAL)
        if train is None or self.facts.trivial_loss <= 0:
            return None
        return min(train, val if val is not None else train) / self.facts.trivial_loss


def mean_curves(history: History) -> dict[str, list[float]]:
    """Per metric, the epoch-wise mean over the folds that recorded it, up to the shortest such fold."""
    names = {name for fold in history.values() for name in fold}
    curves: dict[str, list[float]] = {}
    for name in sorted(names):
        runs = [fold[name] for fold in history.values() if fold.get(name)]
        length = min(len(run) for run in runs)
        if len(runs) == 1:
            curves[name] = list(runs[0][:length])
        else:
            curves[name] = [math.fsum(run[i] for run in runs) / len(runs) for i in range(length)]
    return curves


def fold_spread(history: History, name: str) -> float:
    """Standard deviation over folds of each fold's last value of `name` (0 for a single fold)."""
    finals = [fold[name][-1] for fold in history.values() if fold.get(name)]
    return statistics.pstdev(finals) if len(finals) > 1 else 0.0


def step_noise(values: list[float]) -> float:
    """The epoch-to-epoch noise of a curve, robust to its trend and to a few big steps.

    The median absolute deviation of the successive differences (×1.4826: a std for Gaussian noise), /√2
    because a difference holds two epochs' noise. Centring on the median difference removes a steady
    trend; the median ignores the fast first epochs of a descent.
    """
    if len(values) < 3:
        return 0.0
    steps = [b - a for a, b in itertools.pairwise(values)]
    centre = statistics.median(steps)
    return 1.4826 * statistics.median(abs(step - centre) for step in steps) / math.sqrt(2)


def last_half(values: list[float], minimum: int = 3) -> list[float]:
    return values[-max(minimum, len(values) // 2) :]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def sig(value: float | None, digits: int = 4) -> float | str | None:
    """A number for the evidence JSON: 4 significant digits; NaN/Inf as strings (JSON has no such numbers)."""
    if value is None:
        return None
    if not math.isfinite(value):
        return str(value)
    return float(f"{value:.{digits}g}")
