"""The diagnosis of a run from the user's own loop, made by the `trainwell.diagnose` task once the run is
finished (worker/rediagnosis.py): the history is read back from the database; there are no weights.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from store import models
from store.db import session_scope
from store.metrics import read_series
from store.runs import record_summary, run_spec
from trainer.diagnose import History
from trainer.diagnose.external import diagnose_run
from trainwell.job import FailureReason
from trainwell.metrics import METRIC_NAMES, STEP_METRICS, MetricName
from trainwell.run import RunSpec
from worker.diagnosis import store_diagnosis


def run_history(job_id: str) -> History:
    """fold → shared metric name → per-epoch values in epoch order: the mean of the points a loop logged
    within each epoch (one point per epoch is that point). A run's own `custom/…` series are not read."""
    with session_scope() as session:
        series = read_series(session=session, job_id=job_id, names=None, fold=None, max_points=None)
    history: History = defaultdict(dict)
    for s in series:
        if s.name not in METRIC_NAMES or s.name in STEP_METRICS:
            continue
        by_epoch: dict[int, list[float]] = defaultdict(list)
        for point in s.points:
            by_epoch[point.epoch].append(point.value)
        history[s.fold][s.name] = [math.fsum(v) / len(v) for _, v in sorted(by_epoch.items())]
    return dict(history)


def run_summary(run: RunSpec, history: History, *, diverged: bool, message: str) -> dict[str, Any]:
    """A job's summary (trainer FitResult.summary) from the logged history of fold 0: the best epoch is
    the one of the lowest validation loss (training loss without one), its metrics the best metrics."""
    curves = history.get(0, {})
    key = curves.get(MetricName.val_loss.value) or curves.get(MetricName.train_loss.value) or []
    finite = [(value, epoch) for epoch, value in enumerate(key) if math.isfinite(value)]
    best = min(finite)[1] if finite else None
    return {
        "status": "diverged" if diverged else "completed",
        "task": run.task,
        "message": message if diverged else "",
        "device": "the user's own loop",
        "best_epoch": best + 1 if best is not None else None,
        "epochs_run": max((len(values) for values in curves.values()), default=0),
        "best_metrics": {n: v[best] for n, v in curves.items() if best is not None and best < len(v)},
        "final_metrics": {n: v[-1] for n, v in curves.items() if v},
    }


def diagnose_external_run(job: models.Job) -> None:
    reason = FailureReason(job.error_reason) if job.error_reason else None
    run, history, message = run_spec(job), run_history(job.id), job.error_message or "a non-finite value"
    summary = run_summary(run, history, diverged=reason is FailureReason.diverged, message=message)
    with session_scope() as session:
        record_summary(session=session, run_id=job.id, summary=summary)
    store_diagnosis(job.id, job.attempt, diagnose_run(run, history, failure_reason=reason, message=message))
