"""A sweep's comparison: each cell's statistics over its seeds, the best cell against the runner-up, and
the comparative findings (sweep_findings.py).

Pure: it reads the trials' rows, their diagnoses' verdicts and sharpness and, when given, their curves.
Only succeeded trials feed the statistics: a failed or cancelled trial's metrics stop wherever it
stopped. The verdicts are counted over every released trial, since a diverged trial's verdict is the
cell's most telling result.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from api.services.sweep_findings import ALPHA, CellOutcome, sweep_findings
from store.sweeps import TrialRow
from trainwell.diagnosis import Verdict
from trainwell.job import JobStatus
from trainwell.metrics import MetricName
from trainwell.sweep import OBJECTIVE_METRIC, Comparison, Stat, SweepAccounting, SweepCell, SweepFinding
from trainwell.sweep_grid import Cell

# The metrics a row reports, at the best epoch and the last: each split's loss and score.
REPORTED = tuple(
    MetricName(f"{split}_{kind}") for kind in ("loss", "accuracy", "mae", "r2") for split in ("train", "val", "test")
)
# Cells rank by the sweep's objective at each trial's best epoch, as a search's sampler minimizes it.
RANKED_BY = f"best_{OBJECTIVE_METRIC}"
_VERDICTS = frozenset(verdict.value for verdict in Verdict)


@dataclass(frozen=True)
class SweepComparison:
    """What GET /v1/sweeps/{id} serves beside the sweep: the table, the best cell, the findings."""

    table: list[SweepCell]
    best: Comparison | None
    findings: list[SweepFinding]


def compare(
    *,
    cells: Sequence[Cell],
    trials: Sequence[TrialRow],
    verdicts: Mapping[str, str],
    sharpness: Mapping[str, float],
    curves: Mapping[str, Mapping[str, list[float]]] | None = None,
) -> SweepComparison:
    """The table (one row per cell, in cell order: a grid's cells, or a search's configurations), the best cell by mean best validation loss with
    Welch's test against the runner-up, and the findings. `verdicts` and `sharpness` (λmax) are keyed by job
    id; `curves` (job id → metric → per-epoch values) feeds the curve-based findings, which it skips if None."""
    outcomes: list[CellOutcome] = []
    ranked_by: dict[int, list[float]] = {}  # cell → its seeds' RANKED_BY values, for Welch's test
    for cell in cells:
        mine = sorted((trial for trial in trials if trial.cell == cell.index), key=lambda trial: trial.position)
        done = [trial for trial in mine if trial.status is JobStatus.succeeded and trial.summary is not None]
        samples = _metric_samples(done)
        row = _row(cell.index, cell.values, mine, done, samples, verdicts, sharpness)
        mean_curves = None if curves is None else _mean_curves(done, curves)
        outcomes.append(CellOutcome(row=row, task=_task(done), curves=mean_curves))
        ranked_by[cell.index] = samples.get(RANKED_BY, [])
    best = _best(ranked_by)
    return SweepComparison([outcome.row for outcome in outcomes], best, sweep_findings(outcomes, best))


def accounting(trials: Sequence[TrialRow], *, planned: int, epochs_full_each: int) -> SweepAccounting:
    """Epochs its trials' jobs ran against every planned trial run to its last epoch: a stored trial's
    spec says its epochs × folds, one not sampled yet (a search's) the base's `epochs_full_each`."""
    trained = sum(trial.epochs_run for trial in trials)
    full = sum(trial.epochs_full for trial in trials) + max(planned - len(trials), 0) * epochs_full_each
    stopped = sum(trial.stopped_early for trial in trials)
    return SweepAccounting(
        epochs_trained=trained, epochs_full=full, fraction=trained / full if full else None, stopped_early=stopped
    )


def stat(values: Sequence[float]) -> Stat:
    """Mean, sample standard deviation (n − 1; None below two values) and count."""
    mean = statistics.fmean(values) if values else None
    # numpy's float arithmetic: statistics.stdev computes in exact fractions, a tenth of a 500-trial comparison
    std = float(np.std(values, ddof=1)) if len(values) >= 2 else None
    return Stat(mean=mean, std=std, n=len(values))


def welch_p_value(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Welch's two-sided t-test; None below two values in either sample. When both samples are constant the
    t statistic is 0/0 or ±∞: None if their means are equal, and 0.0 if they differ, the limit as both
    spreads shrink to nothing (every seed of one cell beats every seed of the other by the same margin)."""
    if len(a) < 2 or len(b) < 2:
        return None
    if min(a) == max(a) and min(b) == max(b):
        return None if a[0] == b[0] else 0.0
    with warnings.catch_warnings():
        # scipy warns of precision loss on a constant sample, yet with the other sample's spread Welch's
        # statistic is well defined: its standard error is that sample's alone
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def _row(
    index: int,
    values: dict[str, Any],
    trials: list[TrialRow],
    done: list[TrialRow],
    samples: dict[str, list[float]],
    verdicts: Mapping[str, str],
    sharpness: Mapping[str, float],
) -> SweepCell:
    released = [trial.job_id for trial in trials if trial.job_id is not None]
    seconds = [
        (trial.finished_at - trial.started_at).total_seconds()
        for trial in done
        if trial.started_at is not None and trial.finished_at is not None
    ]
    lambdas = [_number(sharpness.get(trial.job_id)) for trial in done if trial.job_id is not None]
    epochs = [_number((trial.summary or {}).get("best_epoch")) for trial in done]
    counted = Counter(Verdict(v) for job_id in released if (v := verdicts.get(job_id)) in _VERDICTS)
    return SweepCell(
        cell=index,
        values=values,
        job_ids=released,
        succeeded=len(done),
        metrics={name: stat(series) for name, series in samples.items()},
        best_epoch=stat([epoch for epoch in epochs if epoch is not None]),
        seconds=stat(seconds),
        lambda_max=stat([value for value in lambdas if value is not None]),
        verdicts=dict(counted),
        stopped_early=sum(trial.stopped_early for trial in done),
    )


def _metric_samples(done: list[TrialRow]) -> dict[str, list[float]]:
    """`best_<metric>` and `final_<metric>` → one value per succeeded trial that reports it, by position."""
    samples: dict[str, list[float]] = {}
    for kind in ("best", "final"):
        for name in REPORTED:
            series = [_number(((trial.summary or {}).get(f"{kind}_metrics") or {}).get(name)) for trial in done]
            present = [value for value in series if value is not None]
            if present:
                samples[f"{kind}_{name}"] = present
    return samples


def _best(samples: dict[int, list[float]]) -> Comparison | None:
    """The cell with the lowest mean, the runner-up the next (ties go to the earlier cell)."""
    ranked = sorted((statistics.fmean(values), cell) for cell, values in samples.items() if values)
    if not ranked:
        return None
    (best_mean, best), runner = ranked[0], ranked[1] if len(ranked) > 1 else None
    spread = stat(samples[best])  # the table's own statistic of the best cell: its seed spread with it
    p = welch_p_value(samples[best], samples[runner[1]]) if runner is not None else None
    return Comparison(
        metric=RANKED_BY,
        best_cell=best,
        runner_up=None if runner is None else runner[1],
        difference=None if runner is None else runner[0] - best_mean,
        p_value=p,
        separable=None if p is None else p < ALPHA,
        objective=spread.mean,
        objective_std=spread.std,
        seeds=spread.n,
    )


def _mean_curves(done: list[TrialRow], curves: Mapping[str, Mapping[str, list[float]]]) -> dict[str, list[float]]:
    """metric → its per-epoch mean over the succeeded seeds that recorded it, up to the epoch all of them
    reached, so every epoch's mean is over the same seeds."""
    by_metric: dict[str, list[list[float]]] = {}
    for trial in done:
        for metric, series in curves.get(trial.job_id or "", {}).items():
            by_metric.setdefault(metric, []).append(series)
    means = {}
    for metric, runs in by_metric.items():
        length = min(len(run) for run in runs)
        means[metric] = [statistics.fmean(run[epoch] for run in runs) for epoch in range(length)]
    return {metric: mean for metric, mean in means.items() if mean}


def _task(done: list[TrialRow]) -> str | None:
    tasks = {(trial.summary or {}).get("task") for trial in done}
    return tasks.pop() if len(tasks) == 1 else None


def _number(value: object) -> float | None:
    """A finite number from a summary or a mapping; anything else (None, NaN, a string) counts as absent."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
