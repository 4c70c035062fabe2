"""The reaper: a thread in every worker's main process (never in a pool child), and its policy.

Each round, a running job whose heartbeat went stale lost its worker: it is requeued to resume from
its last checkpoint, or failed (reason worker_lost) once it has used max_attempts claims; a cancelling
one is cancelled. A queued job whose message the broker lost (a Redis restart without persistence) is sent
again after requeue_after_seconds, and one whose message was never sent (a row marked sent only after its
send, whose sender died in between) after a lease: only one whose task id the broker does not hold
(core.broker.held_task_ids, read once a round), so a message still waiting is never copied. Diagnoses whose probe jobs all ended are settled.

A diagnosis or a landscape whose worker died is made again, at most max_attempts times, then ended with
the reason: each worker's main process stamps a lease for the tasks its pool runs (store/lost_work.py), and
a final job whose diagnosis is still to be made with a stale lease (its process was killed while it
diagnosed) gets a `trainwell.diagnose` task; a running landscape with a stale lease goes back to queued.
Running in every worker is safe: each action is a compare-and-set on the row (store/stale_jobs.py,
store/lost_work.py), and only the worker whose update won acts.

A job the reaper ends never reaches a job process to be diagnosed: its not_applicable diagnosis is
stored with its final status, so no live stream or `wait` waits for one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from celery.worker import state as worker_state
from sqlalchemy.orm import Session

from core.broker import (
    DIAGNOSE_TASK,
    LANDSCAPE_TASK,
    TRAIN_TASK,
    diagnosis_task_id,
    enqueue_diagnosis,
    enqueue_landscape,
    enqueue_training,
    held_task_ids,
)
from core.settings import Settings
from store.counters import increment
from store.db import session_scope
from store.diagnoses import save_diagnosis
from store.lost_work import (
    LostDiagnosis,
    end_lost_diagnosis,
    fail_landscape,
    lost_diagnoses,
    lost_landscapes,
    requeue_landscape,
    resend_diagnosis,
    stamp_leases,
)
from store.models import utcnow
from store.stale_jobs import end_stale_job, mark_resent, requeue_stale_job, stale_jobs, waiting_jobs
from trainer.diagnose import not_applicable
from trainwell.job import FailureReason, JobStatus
from worker.orphans import remove_orphan_checkpoints
from worker.probes import settle_all
from worker.sweeps import advance_all

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requeue:
    job_id: str
    queue: str


@dataclass
class ReapReport:
    requeued: list[Requeue] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # ran out of attempts: failed with reason worker_lost
    cancelled: list[str] = field(default_factory=list)  # were being cancelled when their worker died
    resent: list[Requeue] = field(default_factory=list)  # queued, their message lost or never sent: sent again
    rediagnosed: list[Requeue] = field(default_factory=list)  # their diagnosis's process died: diagnosed again
    undiagnosed: list[str] = field(default_factory=list)  # no diagnosis could be made: not_applicable
    landscapes_requeued: list[Requeue] = field(default_factory=list)  # their landscape's worker died
    landscapes_failed: list[str] = field(default_factory=list)  # ... on every attempt


# how far back the sweep looks for a final job still waiting for its diagnosis: any diagnosis is settled
# within minutes of its job's end, so older rows are never lost ones, and the scan stays bounded
DIAGNOSIS_SWEEP_WINDOW = timedelta(days=2)
DIAGNOSIS_SWEEP_LIMIT = 100  # per round; the rest are found by the next


def reap(
    *, session: Session, now: datetime, settings: Settings, held: Callable[[], Collection[str]] = frozenset
) -> ReapReport:
    """One round's decisions, written in `session`; the messages are for the caller to send after the commit.

    `held()` gives the task ids the broker holds (read at most once, and only when some row waits)."""
    report = ReapReport()
    held = cache(held)
    for job in stale_jobs(session=session, heartbeat_before=now - timedelta(seconds=settings.lease_seconds)):
        if job.status is JobStatus.cancelling:
            if end_stale_job(session=session, job=job, status=JobStatus.cancelled, now=now):
                why = "the job was cancelled after its worker was lost"
                save_diagnosis(session=session, job_id=job.id, diagnosis=not_applicable(why))
                report.cancelled.append(job.id)
        elif job.attempt >= settings.max_attempts:
            reason, message = (
                FailureReason.worker_lost,
                f"the worker stopped heartbeating on each of {job.attempt} attempts",
            )
            if end_stale_job(
                session=session, job=job, status=JobStatus.failed, now=now, reason=reason, message=message
            ):
                why = f"the job failed before it could be diagnosed ({reason}: {message})"
                save_diagnosis(session=session, job_id=job.id, diagnosis=not_applicable(why))
                report.failed.append(job.id)
        elif requeue_stale_job(session=session, job=job, now=now):
            report.requeued.append(Requeue(job.id, job.queue))

    resend_before = now - timedelta(seconds=settings.requeue_after_seconds)
    unsent_before = now - timedelta(seconds=settings.lease_seconds)
    for waiting in waiting_jobs(session=session, enqueued_before=resend_before, unsent_before=unsent_before):
        if waiting.id not in held() and mark_resent(session=session, job=waiting, now=now):
            report.resent.append(Requeue(waiting.id, waiting.queue))
    _reap_diagnoses(session, now, settings, held, report)
    _reap_landscapes(session, now, settings, report)
    for name, items in (
        ("reaper_requeued", report.requeued),
        ("reaper_failed", report.failed),
        ("reaper_cancelled", report.cancelled),
        ("reaper_resent", report.resent),
        ("reaper_rediagnosed", report.rediagnosed),
        ("reaper_undiagnosed", report.undiagnosed),
        ("reaper_landscapes_requeued", report.landscapes_requeued),
        ("reaper_landscapes_failed", report.landscapes_failed),
    ):
        increment(session=session, name=name, by=len(items))
    return report


def _reap_diagnoses(
    session: Session, now: datetime, settings: Settings, held: Callable[[], Collection[str]], report: ReapReport
) -> None:
    lease = now - timedelta(seconds=settings.lease_seconds)
    for lost in lost_diagnoses(
        session=session, heartbeat_before=lease, since=now - DIAGNOSIS_SWEEP_WINDOW, limit=DIAGNOSIS_SWEEP_LIMIT
    ):
        if lost.attempt > 0 and diagnosis_task_id(lost.job_id) in held():
            continue  # sent again and waiting for a worker: it is not lost
        why = _no_diagnosis(lost, settings)
        if why is not None:
            if end_lost_diagnosis(session=session, lost=lost, diagnosis=not_applicable(why)):
                report.undiagnosed.append(lost.job_id)
        elif resend_diagnosis(session=session, lost=lost, now=now):
            report.rediagnosed.append(Requeue(lost.job_id, lost.queue))


def _no_diagnosis(lost: LostDiagnosis, settings: Settings) -> str | None:
    """Why the lost diagnosis is not made again, or None to make it again."""
    if not lost.ran:
        return "the job was cancelled before it started, so it trained nothing"
    tried = lost.attempt + 1  # the job's own process, then each time it was sent again
    if tried >= settings.max_attempts:
        return f"the process diagnosing the job was lost on each of {tried} attempts"
    return None


def _reap_landscapes(session: Session, now: datetime, settings: Settings, report: ReapReport) -> None:
    for lost in lost_landscapes(session=session, heartbeat_before=now - timedelta(seconds=settings.lease_seconds)):
        if lost.attempt < settings.max_attempts:
            if requeue_landscape(session=session, lost=lost, now=now):
                report.landscapes_requeued.append(Requeue(lost.job_id, lost.queue))
        else:
            error = f"the worker computing it was lost on each of {lost.attempt} attempts"
            if fail_landscape(session=session, lost=lost, error=error, now=now):
                report.landscapes_failed.append(lost.job_id)


def active_task_job_ids() -> tuple[set[str], set[str]]:
    """The jobs whose diagnosis (train, diagnose tasks) and landscape this worker's pool is at now.

    Celery's main process tracks the requests its pool runs (celery.worker.state, what `inspect active`
    reports); the task ids name the job (core.broker)."""
    diagnosing, landscapes = set(), set()
    for request in list(worker_state.active_requests):
        if request.name == TRAIN_TASK:
            diagnosing.add(request.id)
        elif request.name == DIAGNOSE_TASK:
            diagnosing.add(request.id.removesuffix(".diagnose"))
        elif request.name == LANDSCAPE_TASK:
            landscapes.add(request.id.removesuffix(".landscape"))
    return diagnosing, landscapes


def reap_once(settings: Settings) -> None:
    diagnosing, landscapes = active_task_job_ids()
    with session_scope() as session:  # the leases first, in their own commit, so no reaper reads them stale
        stamp_leases(session=session, job_ids=diagnosing, landscape_job_ids=landscapes, now=utcnow())
    with session_scope() as session:
        report = reap(session=session, now=utcnow(), settings=settings, held=lambda: held_task_ids(settings))
    # sent after the commit: the claim must find the row queued
    for item in report.requeued + report.resent:
        enqueue_training(item.job_id, item.queue)
    for item in report.rediagnosed:
        enqueue_diagnosis(item.job_id, item.queue)
        log.warning("job %s: its diagnosis's process was lost; diagnosing it again", item.job_id)
    for item in report.landscapes_requeued:
        enqueue_landscape(item.job_id, item.queue)
        log.warning("job %s: the worker computing its landscape was lost; computing it again", item.job_id)
    for job_id in report.undiagnosed:
        log.warning("job %s: no diagnosis can be made; not_applicable", job_id)
    for job_id in report.landscapes_failed:
        log.error("job %s: its landscape's worker was lost on every attempt; failed", job_id)
    for item in report.requeued:
        log.warning("job %s: worker lost (heartbeat older than %.0fs); requeued", item.job_id, settings.lease_seconds)
    for item in report.resent:
        log.warning("job %s: still queued, its message not in the broker; sent again", item.job_id)
    for job_id in report.failed:
        log.error("job %s: worker lost on every attempt; failed", job_id)
    for job_id in report.cancelled:
        log.warning("job %s: worker lost while cancelling; cancelled", job_id)
    settle_all()  # verdicts whose probes ended without a worker to settle them (cancelled, lost)
    advance_all()  # sweeps whose trials ended without a worker to release the next (cancelled, lost)


def start_reaper(settings: Settings) -> threading.Thread:
    stop = threading.Event()

    def loop() -> None:
        first = True
        while not stop.wait(settings.reaper_interval_seconds):
            try:
                reap_once(settings)
                remove_orphan_checkpoints(settings, everything=first)
                first = False
            except Exception:  # the database or broker is down: try again next round
                log.exception("reaper round failed")

    thread = threading.Thread(target=loop, name="trainwell-reaper", daemon=True)
    thread.start()
    return thread
