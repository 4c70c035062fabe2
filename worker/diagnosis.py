"""Diagnose a job when it ends, in the job's own process, and store the result.

The process has given its worker slot back by then (worker/tasks.py): the next job trains while this
one is diagnosed, and the diagnosis keeps its own lease (`diagnosis_lease`) in place of the one the
worker stamps for the tasks its pool runs.

The history is read back from the database rather than collected from the callbacks:
a resumed attempt reports only the epochs after its checkpoint, while the stored
series hold every epoch of every attempt.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from core.settings import Settings
from store import jobs as job_store
from store.db import session_scope
from store.diagnoses import get_diagnosis, save_attempt_diagnosis
from store.lost_work import stamp_leases
from store.metrics import read_series
from store.models import utcnow
from trainer import FitResult
from trainer.diagnose import DiagnosisScope, History, diagnose
from trainwell.diagnosis import Diagnosis, DiagnosisStatus
from trainwell.job import FailureReason
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


@contextmanager
def diagnosis_lease(job_id: str, settings: Settings) -> Iterator[None]:
    """Stamp the final job's lease (store/lost_work.py) while the block runs, from a thread of this process:
    a diagnosis that outlasts the lease is not lost, and one whose process dies goes stale and is made
    again by the reaper."""
    stop = threading.Event()
    every = min(settings.reaper_interval_seconds, settings.lease_seconds / 3)

    def stamp() -> None:
        while True:
            try:
                with session_scope() as session:
                    stamp_leases(session=session, job_ids=[job_id], landscape_job_ids=(), now=utcnow())
            except SQLAlchemyError:  # the database is away: the next stamp, or the reaper, settles it
                log.warning("job %s: the diagnosis lease could not be stamped", job_id)
            if stop.wait(every):
                return

    thread = threading.Thread(target=stamp, name="trainwell-diagnosis-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def diagnose_and_store(
    job_id: str,
    attempt: int,
    spec: JobSpec,
    result: FitResult | None,
    *,
    failure_reason: FailureReason | None,
    settings: Settings,
    may_probe: bool,
) -> None:
    """Diagnose the job; when the diagnosis asks for probe runs (and `may_probe`: probes never probe),
    store it provisional and queue them (worker/probes.py). Its remedies and probes stay within the
    service's limits, so launching any of them is accepted. Stored only while `attempt` is the job's
    newest claim: a superseded attempt's diagnosis never overwrites the newer one's."""
    history = stored_history(job_id)
    train_seconds = sum(sum(fold.get(MetricName.epoch_seconds, [])) for fold in history.values())
    scope = DiagnosisScope(
        curvature=may_probe,  # a probe's verdict is its loss; its curvature would only lengthen it
        plan_probes=may_probe,
        limits=settings.limits,
    )
    diagnosis = diagnose(
        spec,
        result,
        history,
        failure_reason=failure_reason,
        train_seconds=train_seconds,
        data_dir=settings.data_dir,
        scope=scope,
    )
    log.info("diagnosis: %s (%d findings)", diagnosis.verdict or diagnosis.status, len(diagnosis.findings))
    if diagnosis.status is DiagnosisStatus.running_probes:
        if _holds(job_id, attempt):  # a superseded attempt launches no probes
            launch_probes(job_id, spec, diagnosis)
        return
    store_diagnosis(job_id, attempt, diagnosis)


def store_diagnosis(job_id: str, attempt: int, diagnosis: Diagnosis, *, keep_stored: bool = False) -> None:
    """Store the job's diagnosis, fenced by `attempt`; with `keep_stored`, only if it has none yet."""

    def write() -> None:
        with session_scope() as session:
            if keep_stored and get_diagnosis(session=session, job_id=job_id) is not None:
                return
            if not save_attempt_diagnosis(session=session, job_id=job_id, attempt=attempt, diagnosis=diagnosis):
                log.warning("superseded: attempt %d's diagnosis is not stored", attempt)

    with_database_retry(write, what=f"diagnosis of job {job_id}")


def _holds(job_id: str, attempt: int) -> bool:
    def read() -> bool:
        with session_scope() as session:
            return job_store.holds_attempt(session=session, job_id=job_id, attempt=attempt)

    return with_database_retry(read, what=f"attempt of job {job_id}")
