"""Jobs that may have lost their worker or their message: the selects that find them, and the
compare-and-set updates that move them on (worker/reaper.py decides which).

Every update matches the row as it was read, so several workers may reap at once safely, and a job
that heartbeats, is claimed or moves on in between is left alone (the update reports False).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from store.models import Job
from trainwell.job import FailureReason, JobOrigin, JobStatus


@dataclass(frozen=True)
class StaleJob:
    """A running or cancelling job as read, with the heartbeat that went stale."""

    id: str
    status: JobStatus
    attempt: int
    queue: str
    heartbeat_at: datetime | None  # as read: the compare-and-set matches it


@dataclass(frozen=True)
class WaitingJob:
    """A queued job as read, with the time its message was last sent."""

    id: str
    queue: str
    enqueued_at: datetime | None  # as read: the compare-and-set matches it


def stale_jobs(*, session: Session, heartbeat_before: datetime) -> list[StaleJob]:
    """Running and cancelling jobs whose last heartbeat is older than `heartbeat_before`, locked for the
    caller's updates.

    A row another transaction holds is left for a later round: its holder is writing the job now (or
    stopped mid-transaction, which the server ends after a lease: store/db.py), and waiting for it
    would stall every other decision of the round."""
    active = (JobStatus.running.value, JobStatus.cancelling.value)
    rows = session.execute(
        select(Job.id, Job.status, Job.attempt, Job.queue, Job.heartbeat_at)
        # an external run's loop is its owner's, not a worker's: its heartbeat is no lease (store/runs.py)
        .where(Job.status.in_(active), Job.heartbeat_at < heartbeat_before, Job.origin != JobOrigin.external.value)
        .with_for_update(skip_locked=True)
    )
    return [
        StaleJob(id, JobStatus(status), attempt, queue, heartbeat) for id, status, attempt, queue, heartbeat in rows
    ]


def requeue_stale_job(*, session: Session, job: StaleJob, now: datetime) -> bool:
    """Queue the job again, unclaimed, to resume from its checkpoint (the caller sends its message)."""
    return _update_stale(
        session, job, {"status": JobStatus.queued.value, "heartbeat_at": None, "worker": None, "enqueued_at": now}
    )


def end_stale_job(
    *,
    session: Session,
    job: StaleJob,
    status: JobStatus,
    now: datetime,
    reason: FailureReason | None = None,
    message: str | None = None,
) -> bool:
    """Give the job its final status (with the error's reason and message, for a failure)."""
    values: dict[str, object] = {"status": status.value, "finished_at": now}
    if reason is not None:
        values |= {"error_reason": reason.value, "error_message": message}
    return _update_stale(session, job, values)


def waiting_jobs(*, session: Session, enqueued_before: datetime, unsent_before: datetime) -> list[WaitingJob]:
    """Queued jobs whose message was last sent before `enqueued_before`, or never, created before
    `unsent_before`: a row is marked sent only after its send (a keyed submission, a released sweep trial),
    so one still unmarked a lease after it was stored lost its sender between the commit and the send."""
    never_sent = and_(Job.enqueued_at.is_(None), Job.created_at < unsent_before)
    rows = session.execute(
        select(Job.id, Job.queue, Job.enqueued_at).where(
            Job.status == JobStatus.queued.value, or_(Job.enqueued_at < enqueued_before, never_sent)
        )
    )
    return [WaitingJob(id, queue, enqueued_at) for id, queue, enqueued_at in rows]


def mark_resent(*, session: Session, job: WaitingJob, now: datetime) -> bool:
    """Record that the job's message is sent again now (the caller sends it)."""
    resent = session.execute(
        update(Job)
        .where(
            Job.id == job.id,
            Job.status == JobStatus.queued.value,
            Job.enqueued_at.is_(None) if job.enqueued_at is None else Job.enqueued_at == job.enqueued_at,
        )
        .values(enqueued_at=now)
    )
    return bool(resent.rowcount == 1)  # type: ignore[attr-defined]


def _update_stale(session: Session, job: StaleJob, values: dict[str, object]) -> bool:
    unchanged = (Job.id == job.id, Job.status == job.status.value, Job.heartbeat_at == job.heartbeat_at)
    result = session.execute(update(Job).where(*unchanged).values(**values))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Delivery:
    """What a delivered training message finds before anything is forked for it."""

    queued: bool  # False: a duplicate of a message already trained, or cancelled while queued
    queue: str
    waits_for_own_jobs: bool  # a probe whose principal has its own jobs queued behind it on its queue


def delivery(*, session: Session, job_id: str) -> Delivery:
    """One read: is the job still queued, and is it a probe that should let its principal's jobs go first."""
    row = session.execute(
        select(Job.status, Job.origin, Job.principal_id, Job.queue).where(Job.id == job_id)
    ).one_or_none()
    if row is None or row.status != JobStatus.queued.value:
        return Delivery(queued=False, queue="", waits_for_own_jobs=False)
    if row.origin != JobOrigin.probe.value:
        return Delivery(queued=True, queue=row.queue, waits_for_own_jobs=False)
    own_waiting = session.scalar(
        select(
            exists().where(
                Job.principal_id == row.principal_id,
                Job.status == JobStatus.queued.value,
                Job.queue == row.queue,
                Job.origin != JobOrigin.probe.value,
            )
        )
    )
    return Delivery(queued=True, queue=row.queue, waits_for_own_jobs=bool(own_waiting))


def mark_sent_now(*, session: Session, job_ids: list[str], now: datetime) -> None:
    """These jobs' messages are in the broker (those the reaper has not marked resent meanwhile)."""
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids), Job.enqueued_at.is_(None)).values(enqueued_at=now))


async def mark_sent(*, connection: AsyncConnection, job_id: str, now: datetime) -> None:
    """A keyed submission's message is in the broker: from now on a retry with its key may replay it."""
    await connection.execute(update(Job).where(Job.id == job_id).values(enqueued_at=now))
