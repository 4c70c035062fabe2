"""Diagnoses and landscapes whose worker died: the leases that show a worker still at them, the selects
that find the lost ones, and the compare-and-sets that send them again or end them (worker/reaper.py).

A finished job's diagnosis is made by a live Celery task (the job's own `train` task, or a
`trainwell.diagnose` one), and a landscape by a `trainwell.landscape` task: each worker's main process
stamps a lease for the tasks its pool runs (the job row's heartbeat_at once the job is final, which
nothing else writes then; the landscape row's heartbeat_at). A lease older than the lease seconds means
the process is gone, as a running job's heartbeat does.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from store.db import upsert_insert
from store.models import Job, JobDiagnosis, JobLandscape
from trainwell.diagnosis import Diagnosis, DiagnosisStatus
from trainwell.job import FINAL_STATUSES, JobStatus
from trainwell.landscape import Landscape, LandscapeStatus

FINAL = [status.value for status in FINAL_STATUSES]


def stamp_leases(
    *, session: Session, job_ids: Collection[str], landscape_job_ids: Collection[str], now: datetime
) -> None:
    """The worker's pool runs these tasks: their diagnoses (final jobs only: a running job's heartbeat
    is its own process's) and landscapes are alive."""
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(list(job_ids)), Job.status.in_(FINAL)).values(heartbeat_at=now))
    if landscape_job_ids:
        session.execute(
            update(JobLandscape)
            .where(
                JobLandscape.job_id.in_(list(landscape_job_ids)),
                JobLandscape.status == LandscapeStatus.running.value,
            )
            .values(heartbeat_at=now)
        )


@dataclass(frozen=True)
class LostDiagnosis:
    """A final job with no final diagnosis, and no live task making one."""

    job_id: str
    queue: str
    ran: bool  # it was claimed at least once: there are losses to diagnose
    attempt: int  # times its diagnosis was sent again
    stored: bool  # a pending diagnosis row exists (the compare-and-set matches it)


def lost_diagnoses(*, session: Session, heartbeat_before: datetime, since: datetime, limit: int) -> list[LostDiagnosis]:
    """Final jobs whose diagnosis is missing or pending and whose lease went stale (or never was: a job
    that never ran), among jobs that last heartbeated after `since` — older ones were settled long ago.
    Two index ranges on ix_jobs_status_heartbeat, so the scan stays bounded by the recent jobs."""
    columns = (Job.id, Job.queue, Job.attempt, JobDiagnosis.attempt, JobDiagnosis.job_id)
    undiagnosed = or_(JobDiagnosis.job_id.is_(None), JobDiagnosis.status == DiagnosisStatus.pending.value)
    stale = [Job.heartbeat_at.between(since, heartbeat_before), Job.heartbeat_at.is_(None)]
    queries = [
        select(*columns)
        .outerjoin(JobDiagnosis, JobDiagnosis.job_id == Job.id)
        .where(Job.status.in_(FINAL), lease, undiagnosed)
        .limit(limit)
        for lease in stale
    ]
    rows = [row for query in queries for row in session.execute(query)][:limit]
    return [
        LostDiagnosis(job_id, queue, attempt > 0, tries or 0, row is not None)
        for job_id, queue, attempt, tries, row in rows
    ]


def resend_diagnosis(*, session: Session, lost: LostDiagnosis, now: datetime) -> bool:
    """Record the diagnosis as sent again (a pending row, one more attempt) and give its message a lease
    to be delivered in; False when another reaper got there first (the caller sends the message)."""
    body = Diagnosis(
        status=DiagnosisStatus.pending, summary=f"The diagnosis is being made again (attempt {lost.attempt + 1})."
    ).model_dump(mode="json")
    values = {"status": DiagnosisStatus.pending.value, "body": body, "updated_at": now, "attempt": lost.attempt + 1}
    if not _replace_lost(session, lost, {"verdict": None, **values}):
        return False
    session.execute(update(Job).where(Job.id == lost.job_id).values(heartbeat_at=now))
    return True


def end_lost_diagnosis(*, session: Session, lost: LostDiagnosis, diagnosis: Diagnosis) -> bool:
    """Store the lost diagnosis's final one (not_applicable), unless someone stored another meanwhile."""
    values = {
        "status": diagnosis.status.value,
        "verdict": None,
        "body": diagnosis.model_dump(mode="json"),
        "attempt": lost.attempt,
    }
    return _replace_lost(session, lost, values)


def _replace_lost(session: Session, lost: LostDiagnosis, values: dict[str, Any]) -> bool:
    """Overwrite the lost diagnosis's row as the reaper found it (still pending, at that attempt), or
    insert it where there was none; False when another reaper or the diagnosis itself came first."""
    if lost.stored:
        result = session.execute(
            update(JobDiagnosis)
            .where(
                JobDiagnosis.job_id == lost.job_id,
                JobDiagnosis.status == DiagnosisStatus.pending.value,
                JobDiagnosis.attempt == lost.attempt,
            )
            .values(**values)
        )
    else:
        statement = upsert_insert(session, JobDiagnosis).values(job_id=lost.job_id, **values)
        result = session.execute(statement.on_conflict_do_nothing(index_elements=["job_id"]))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def diagnosis_pending(*, session: Session, job_id: str) -> bool:
    """The job's diagnosis is still to be made (the `trainwell.diagnose` task's claim reads it)."""
    status = session.scalar(select(JobDiagnosis.status).where(JobDiagnosis.job_id == job_id))
    return status is None or status == DiagnosisStatus.pending.value


@dataclass(frozen=True)
class LostLandscape:
    job_id: str
    queue: str
    attempt: int  # claims so far
    heartbeat_at: datetime | None  # as read: the compare-and-set matches it


def lost_landscapes(*, session: Session, heartbeat_before: datetime) -> list[LostLandscape]:
    """Running landscapes whose worker stopped stamping their lease (or never did: rows from before it)."""
    query = (
        select(JobLandscape.job_id, Job.queue, JobLandscape.attempt, JobLandscape.heartbeat_at)
        .join(Job, Job.id == JobLandscape.job_id)
        .where(
            JobLandscape.status == LandscapeStatus.running.value,
            or_(JobLandscape.heartbeat_at.is_(None), JobLandscape.heartbeat_at < heartbeat_before),
        )
    )
    return [LostLandscape(*row) for row in session.execute(query)]


def requeue_landscape(*, session: Session, lost: LostLandscape, now: datetime) -> bool:
    """running → queued, to be computed again (the caller sends its message)."""
    body = Landscape(job_id=lost.job_id, status=LandscapeStatus.queued, requested_at=now).model_dump(mode="json")
    return _update_lost_landscape(session, lost, {"status": LandscapeStatus.queued.value, "body": body})


def fail_landscape(*, session: Session, lost: LostLandscape, error: str, now: datetime) -> bool:
    """running → failed, with the reason (asking again computes it anew)."""
    failed = Landscape(job_id=lost.job_id, status=LandscapeStatus.failed, error=error, finished_at=now)
    values = {"status": LandscapeStatus.failed.value, "body": failed.model_dump(mode="json"), "finished_at": now}
    return _update_lost_landscape(session, lost, values)


def _update_lost_landscape(session: Session, lost: LostLandscape, values: dict[str, object]) -> bool:
    unchanged = (
        JobLandscape.job_id == lost.job_id,
        JobLandscape.status == LandscapeStatus.running.value,
        JobLandscape.heartbeat_at.is_(None)
        if lost.heartbeat_at is None
        else JobLandscape.heartbeat_at == lost.heartbeat_at,
    )
    result = session.execute(update(JobLandscape).where(*unchanged).values(**values))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def job_status(*, session: Session, job_id: str) -> JobStatus | None:
    status = session.scalar(select(Job.status).where(Job.id == job_id))
    return JobStatus(status) if status is not None else None
