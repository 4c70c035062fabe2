"""How sure a comparison of two losses is: the difference, its standard error, and which noise set it.

Every rule that compares two losses (the generalization gap, the test gap, validation turning up, the
best epoch early) judges the difference by its standard error, the largest of three noises:

- the rows: a split's mean loss is an average over its rows, with standard error std/√rows of the
  per-row losses, measured at the final weights (`DataFacts.train_se` …, weights.py). Two splits hold
  different rows, so a difference's error is √(se₁² + se₂²). Without measured per-row losses (a run
  from the user's own loop) it is assumed from a per-row coefficient of variation of `ROW_LOSS_CV`.
- the folds: for k-fold validation, the std over folds of each fold's difference, / √k (the job's curve
  is the folds' mean).
- the epochs: the epoch-to-epoch jitter of each curve at its end (history.step_noise).

A difference within `SIGNIFICANT` standard errors could be sampling noise (≈ 95% two-sided for a normal
error): its finding is at most `info`, and cannot decide a verdict.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from scipy import stats

from trainer.diagnose.history import TEST, TRAIN, VAL, JobRecord, last_half, sig, step_noise
from trainwell.diagnosis import LossDecomposition, LossTerm

SIGNIFICANT = 2.0
# A few confident mistakes dominate a good classifier's row losses: the per-row std is about 3× the mean
# (√2 for squared Gaussian errors; cross-entropy's rows are heavier-tailed). Used only when unmeasured.
ROW_LOSS_CV = 3.0
# The trend test of a rising curve: Kendall's τ between epoch and loss from the best epoch on, one-sided.
TREND_P = 0.05
SPLITS = {TRAIN: "training", VAL: "validation", TEST: "test"}


@dataclass(frozen=True)
class Comparison:
    """`difference` = one loss − another, with the standard error it is judged by and where that came from."""

    difference: float
    standard_error: float
    noise: str  # what set the standard error, for the evidence and the confidence ("the 27 validation rows")

    @property
    def z(self) -> float:
        """The difference in standard errors (∞ when there is no measurable noise)."""
        if self.standard_error > 0:
            return self.difference / self.standard_error
        return math.inf if self.difference > 0 else 0.0

    @property
    def significant(self) -> bool:
        return self.z >= SIGNIFICANT

    def evidence(self) -> dict[str, Any]:
        z = self.z
        return {
            "standard_error": sig(self.standard_error),
            "standard_errors": sig(z) if math.isfinite(z) else None,
            "noise": self.noise,
        }


def row_error(job: JobRecord, name: str) -> float | None:
    """Standard error of the mean of split `name`'s loss at the job's end, measured or assumed."""
    facts = job.facts
    measured = {TRAIN: facts.train_se, VAL: facts.val_se, TEST: facts.test_se}[name]
    if measured is not None:
        return measured
    rows, value = split_rows(job, name), job.at_end(name)
    if rows <= 0 or value is None:
        return None
    return ROW_LOSS_CV * value / math.sqrt(rows)


def split_rows(job: JobRecord, name: str) -> int:
    return {TRAIN: job.facts.n_train, VAL: job.facts.n_val, TEST: job.facts.n_test}[name]


def compare(job: JobRecord, upper: str, lower: str) -> Comparison | None:
    """at_end(upper) − at_end(lower) with its standard error; None when either loss is missing."""
    a, b = job.at_end(upper), job.at_end(lower)
    if a is None or b is None:
        return None
    noises: dict[str, float] = {}
    errors = {name: row_error(job, name) for name in (upper, lower)}
    known = {name: error for name, error in errors.items() if error is not None}
    if known:
        noisier = max(known, key=lambda name: known[name])
        rows = split_rows(job, noisier)
        noises[f"the sampling of the {rows} {SPLITS.get(noisier, noisier)} rows"] = math.hypot(*known.values())
    differences = [
        fold[upper][-1] - fold[lower][-1] for fold in job.history.values() if fold.get(upper) and fold.get(lower)
    ]
    if len(differences) > 1:
        noises[f"the spread over {len(differences)} folds"] = statistics.stdev(differences) / math.sqrt(
            len(differences)
        )
    jitter = math.hypot(*(step_noise(last_half(job.series(name), 5)) for name in (upper, lower)))
    noises["the epoch-to-epoch jitter of the curves"] = jitter
    noise = max(noises, key=lambda name: noises[name])
    return Comparison(a - b, noises[noise], noise)


def compare_epochs(job: JobRecord, name: str, earlier: int) -> Comparison:
    """The last epoch's `name` loss − epoch `earlier`'s, on the same rows.

    Two noises: the curve's jitter (a difference holds two epochs' worth, ×√2), and the rows' — the
    split's standard error at the final weights, which says how far another draw of as many rows could
    move the mean: one borderline row that flips between the two epochs moves a small split's loss by
    about that much."""
    values = job.series(name)
    noises = {"the epoch-to-epoch jitter of the curve": math.sqrt(2) * step_noise(last_half(values, 5))}
    rows = row_error(job, name)
    if rows is not None:
        noises[f"the sampling of the {split_rows(job, name)} {SPLITS.get(name, name)} rows"] = rows
    noise = max(noises, key=lambda key: noises[key])
    return Comparison(values[-1] - values[earlier], noises[noise], noise)


def rising(values: list[float], start: int) -> float:
    """One-sided p-value of an upward trend in values[start:] (Kendall's τ against the epoch: distribution-
    free, and unmoved by one outlying epoch the way a regression slope is)."""
    tail = values[start:]
    if len(tail) < 3:
        return 1.0
    result = stats.kendalltau(range(len(tail)), tail, alternative="greater")
    return float(result.pvalue) if math.isfinite(result.pvalue) else 1.0


def decompose(job: JobRecord) -> LossDecomposition | None:
    """The losses at the job's end as test = train + generalization gap + shift gap, each gap with its
    noise; None when the training loss is missing or not finite (a diverged run has nothing to split)."""
    train, test = job.at_end(TRAIN), job.at_end(TEST)
    if train is None or not math.isfinite(train):
        return None

    def term(upper: str, lower: str) -> LossTerm | None:
        comparison = compare(job, upper, lower)
        if comparison is None or not math.isfinite(comparison.difference + comparison.standard_error):
            return None
        return LossTerm(
            value=_rounded(comparison.difference),
            standard_error=_rounded(comparison.standard_error),
            noise=comparison.noise,
        )

    return LossDecomposition(
        train_loss=_rounded(train),
        generalization_gap=term(VAL, TRAIN),
        shift_gap=term(TEST, VAL),
        test_loss=_rounded(test) if test is not None and math.isfinite(test) else None,
        trivial_loss=_rounded(job.facts.trivial_loss),
    )


def _rounded(value: float) -> float:
    return float(f"{value:.4g}")
