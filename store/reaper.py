"""The reaper's queries: find jobs whose worker died and jobs whose message was lost.

Both are compare-and-sets on the row, so several workers may reap at once safely,
and a job that heartbeats or is claimed in between is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.counters import increment
from store.models import Job
from trainwell.job import JobStatus


@dataclass(frozen=True)
class Requeue:
    job_id: str
    queue: str


@dataclass
class ReapReport:
    requeued: list[Requeue]
    failed: list[str]  # ran out of attempts: failed with reason worker_lost
    cancelled: list[str]  # were being cancelled when their worker died
    resent: list[Requeue]  # queued too long: their message is sent again


def reap(
    *, session: Session, now: datetime, lease_seconds: float, max_attempts: int, requeue_after_seconds: float
) -> ReapReport:
    report = ReapReport([], [], [], [])
    stale_before = now - timedelta(seconds=lease_seconds)
    active = (JobStatus.running.value, JobStatus.cancelling.value)
    stale = session.execute(
        select(Job.id, Job.status, Job.attempt, Job.queue, Job.heartbeat_at).where(
            Job.status.in_(active), Job.heartbeat_at < stale_before
        )
    ).all()
    for job_id, status, attempt, queue, heartbeat_at in stale:
        unchanged = (Job.id == job_id, Job.status == status, Job.heartbeat_at == heartbeat_at)
        if status == JobStatus.cancelling.value:
            values = {"status": JobStatus.cancelled.value, "finished_at": now}
            bucket: list[str] | None = report.cancelled
        elif attempt >= max_attempts:
            values = {
                "status": JobStatus.failed.value,
                "finished_at": now,
                "error_reason": "worker_lost",
                "error_message": f"the worker stopped heartbeating on each of {attempt} attempts",
            }
            bucket = report.failed
        else:
            values = {"status": JobStatus.queued.value, "heartbeat_at": None, "worker": None, "enqueued_at": now}
            bucket = None
        if session.execute(update(Job).where(*unchanged).values(**values)).rowcount != 1:  # type: ignore[attr-defined]
            continue  # it heartbeated or moved on meanwhile
        if bucket is None:
            report.requeued.append(Requeue(job_id, queue))
        else:
            bucket.append(job_id)

    resend_before = now - timedelta(seconds=requeue_after_seconds)
    waiting = session.execute(
        select(Job.id, Job.queue, Job.enqueued_at).where(
            Job.status == JobStatus.queued.value, Job.enqueued_at < resend_before
        )
    ).all()
    for job_id, queue, enqueued_at in waiting:
        resent = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.queued.value, Job.enqueued_at == enqueued_at)
            .values(enqueued_at=now)
        )
        if resent.rowcount == 1:  # type: ignore[attr-defined]
            report.resent.append(Requeue(job_id, queue))
    for name, items in (
        ("reaper_requeued", report.requeued),
        ("reaper_failed", report.failed),
        ("reaper_cancelled", report.cancelled),
        ("reaper_resent", report.resent),
    ):
        increment(session=session, name=name, by=len(items))
    return report
