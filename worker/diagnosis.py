"""Diagnose a job when it ends, in the job's own process, and store the result.

The history is read back from the database rather than collected from the callbacks:
a resumed attempt reports only the epochs after its checkpoint, while the stored
series hold every epoch of every attempt.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from core.settings import Settings
from store.db import session_scope
from store.diagnoses import save_diagnosis
from store.metrics import read_series
from trainer import FitResult
from trainer.diagnose import History, diagnose
from trainwell.diagnosis import DiagnosisStatus
from trainwell.metrics import STEP_METRICS, MetricName
from trainwell.spec import JobSpec
from worker.probes import launch_probes
from worker.retry import with_database_retry

log = logging.getLogger(__name__)


def stored_history(job_id: str) -> History:
    """fold → metric name → per-epoch values, in epoch order."""
    with session_scope() as session:
        series = read_series(session=session, job_id=job_id, names=None, fold=None, max_points=None)
    history: History = defaultdict(dict)
    for s in series:
        if s.name not in STEP_METRICS:
            history[s.fold][s.name] = [p.value for p in sorted(s.points, key=lambda p: p.epoch)]
    return dict(history)


def diagnose_and_store(
    job_id: str,
    spec: JobSpec,
    result: FitResult | None,
    *,
    failure_reason: str | None,
    settings: Settings,
    may_probe: bool,
) -> None:
    """Diagnose the job; when the diagnosis asks for probe runs (and `may_probe`: probes never probe),
    store it provisional and queue them (worker/probes.py)."""
    history = stored_history(job_id)
    train_seconds = sum(sum(fold.get(MetricName.epoch_seconds, [])) for fold in history.values())
    diagnosis = diagnose(
        spec,
        result,
        history,
        failure_reason=failure_reason,
        train_seconds=train_seconds,
        data_dir=settings.data_dir,
        curvature=may_probe,  # a probe's verdict is its loss; its curvature would only lengthen it
        plan=may_probe,
        max_parameters=settings.max_model_parameters,
    )
    log.info("diagnosis: %s (%d findings)", diagnosis.verdict, len(diagnosis.findings))
    if diagnosis.status is DiagnosisStatus.running_probes:
        launch_probes(job_id, spec, diagnosis)
        return

    def write() -> None:
        with session_scope() as session:
            save_diagnosis(session=session, job_id=job_id, diagnosis=diagnosis)

    with_database_retry(write, what=f"diagnosis of job {job_id}")
