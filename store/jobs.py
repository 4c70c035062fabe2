"""Job queries: create, read, list, and the status transitions both sides perform.

Every transition is a compare-and-set on the row's status, because the row is the
truth and Celery only delivers: a redelivered message, a late cancel or a second
worker all lose the race cleanly instead of training twice.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from store.models import Job, utcnow
from trainwell.job import JobOrigin, JobStatus
from trainwell.spec import JobSpec

# The columns a new job's row sets; the rest keep their defaults or NULL until the job runs.
NEW_JOB_COLUMNS = [
    *("id", "principal_id", "name", "status", "spec", "queue", "origin", "parent_id", "sweep_id", "idempotency_key"),
    *("created_at", "enqueued_at", "attempt", "epoch", "epochs", "fold", "folds"),
]


def new_job(
    *,
    principal_id: int,
    spec: JobSpec,
    queue: str,
    idempotency_key: str | None = None,
    origin: JobOrigin = JobOrigin.user,
    parent_id: str | None = None,
    sweep_id: str | None = None,
    spec_json: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The row of a new queued job (NEW_JOB_COLUMNS); `spec_json` is the spec already dumped, if at hand."""
    validation = spec.dataset.validation
    now = utcnow()
    return dict(
        id=str(uuid.uuid4()),
        principal_id=principal_id,
        name=spec.name,
        status=JobStatus.queued.value,
        spec=spec_json if spec_json is not None else spec.model_dump(mode="json"),
        queue=queue,
        origin=origin.value,
        parent_id=parent_id,
        sweep_id=sweep_id,
        idempotency_key=idempotency_key,
        created_at=now,
        enqueued_at=now,
        attempt=0,
        epoch=0,
        epochs=spec.epochs,
        fold=0,
        folds=getattr(validation, "kfold", 1),
    )


def create_job(
    *,
    session: Session,
    principal_id: int,
    spec: JobSpec,
    queue: str,
    origin: JobOrigin = JobOrigin.user,
    parent_id: str | None = None,
) -> Job:
    """Insert a queued job, with no quota (the service's own jobs: probes). The Job is not in the session."""
    values = new_job(principal_id=principal_id, spec=spec, queue=queue, origin=origin, parent_id=parent_id)
    # A plain INSERT, not session.add + flush: the unit of work has nothing to track for one new row.
    session.execute(insert(Job).values(**values))
    return Job(**values)


def get_job(*, session: Session, job_id: str, principal_id: int | None) -> Job | None:
    """A job by id, or None when it does not exist or belongs to someone else (principal_id None: admin)."""
    query = select(Job).where(Job.id == job_id)
    if principal_id is not None:
        query = query.where(Job.principal_id == principal_id)
    return session.scalars(query).one_or_none()


def remedy_jobs(*, session: Session, parent_id: str) -> list[Job]:
    """The remedy jobs launched from a job's diagnosis, oldest first."""
    query = select(Job).where(Job.parent_id == parent_id, Job.origin == JobOrigin.remedy.value).order_by(Job.created_at)
    return list(session.scalars(query))


def get_job_by_idempotency_key(*, session: Session, principal_id: int, key: str) -> Job | None:
    query = select(Job).where(Job.principal_id == principal_id, Job.idempotency_key == key)
    return session.scalars(query).one_or_none()


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the (created_at, id) of the last job on the previous page."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Raises ValueError on a token that is not one of ours."""
        try:
            created_at, job_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return cls(datetime.fromisoformat(created_at), str(job_id))
        except (ValueError, TypeError) as exc:
            raise ValueError("invalid cursor") from exc


def list_jobs(
    *,
    session: Session,
    principal_id: int | None,
    limit: int,
    status: JobStatus | None = None,
    parent_id: str | None = None,
    sweep_id: str | None = None,
    cursor: Cursor | None = None,
) -> tuple[list[Job], Cursor | None]:
    """One page of jobs, newest first, and the cursor of the next page (None on the last)."""
    query = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    if principal_id is not None:
        query = query.where(Job.principal_id == principal_id)
    if status is not None:
        query = query.where(Job.status == status.value)
    if parent_id is not None:
        query = query.where(Job.parent_id == parent_id)
    if sweep_id is not None:
        query = query.where(Job.sweep_id == sweep_id)
    if cursor is not None:
        query = query.where(
            or_(Job.created_at < cursor.created_at, and_(Job.created_at == cursor.created_at, Job.id < cursor.id))
        )
    jobs = list(session.scalars(query))
    if len(jobs) <= limit:
        return jobs, None
    last = jobs[limit - 1]
    return jobs[:limit], Cursor(last.created_at, last.id)


def claim_job(*, session: Session, job_id: str, worker: str) -> bool:
    """queued → running, only if still queued: the guard against training twice."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.queued.value)
        .values(
            status=JobStatus.running.value,
            started_at=now,
            heartbeat_at=now,
            worker=worker,
            attempt=Job.attempt + 1,
        )
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def request_cancel(*, session: Session, job: Job) -> None:
    """A queued job is cancelled at once (its message, when delivered, finds nothing to claim);
    a running one is asked to stop (the worker polls its status). A final job stays as it is."""
    now = utcnow()
    queued = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.queued.value)
        .values(status=JobStatus.cancelled.value, finished_at=now)
    )
    if queued.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.running.value)
            .values(status=JobStatus.cancelling.value)
        )
    session.refresh(job)


# A running job's writes are fenced by its attempt: each compares `attempt` in the very statement that
# writes, so an attempt the reaper requeued or a newer claim superseded (a paused process that woke up,
# a worker cut off by a partition) changes nothing once the row has moved on.
ACTIVE = (JobStatus.running.value, JobStatus.cancelling.value)


def _held_by(job_id: str, attempt: int) -> tuple[Any, ...]:
    return (Job.id == job_id, Job.attempt == attempt, Job.status.in_(ACTIVE))


def heartbeat(*, session: Session, job_id: str, attempt: int) -> JobStatus | None:
    """Stamp the heartbeat of this attempt and return the job's status (cancelling means: stop);
    None when the attempt no longer holds the job (requeued, claimed again, or ended without it)."""
    stamped = session.execute(update(Job).where(*_held_by(job_id, attempt)).values(heartbeat_at=utcnow()))
    if stamped.rowcount != 1:  # type: ignore[attr-defined]
        return None
    status = session.scalar(select(Job.status).where(Job.id == job_id))  # the row is ours until the commit
    return JobStatus(status) if status is not None else None


def set_progress(
    *,
    session: Session,
    job_id: str,
    attempt: int,
    epoch: int,
    fold: int,
    folds: int,
    epochs: int,
    checkpoint_bytes: int | None = None,
) -> bool:
    """Record this attempt's progress (and its heartbeat, and the size of its checkpoints when measured);
    False when the attempt no longer holds the job.

    The metrics of the epoch are written in the same transaction after it: in PostgreSQL the update
    holds the row's lock until the commit, so no claim can slip between the fence and the rows."""
    values: dict[str, Any] = dict(epoch=epoch, fold=fold, folds=folds, epochs=epochs, heartbeat_at=utcnow())
    if checkpoint_bytes is not None:
        values["checkpoint_bytes"] = checkpoint_bytes
    result = session.execute(update(Job).where(*_held_by(job_id, attempt)).values(**values))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish_job(
    *,
    session: Session,
    job_id: str,
    attempt: int,
    status: JobStatus,
    summary: dict[str, Any] | None = None,
    error_reason: str | None = None,
    error_message: str | None = None,
    error_traceback: str | None = None,
) -> JobStatus | None:
    """running/cancelling → a final status, by the attempt that holds the job; returns the status stored,
    or None when the attempt no longer holds it (a newer attempt's outcome is not ours to write).

    A cancel the API accepted wins over success: a job that finished its last epoch while `cancelling`
    (the flag is read with the heartbeat, so a cancel during the last epoch is never seen by the loop)
    ends `cancelled`, keeping its summary and epochs. A failure stays a failure, with its reason."""
    values: dict[str, Any] = {
        "finished_at": utcnow(),
        "summary": summary,
        "error_reason": error_reason,
        "error_message": error_message,
        "error_traceback": error_traceback,
    }
    final = (
        case((Job.status == JobStatus.cancelling.value, JobStatus.cancelled.value), else_=status.value)
        if status is JobStatus.succeeded
        else status.value
    )
    result = session.execute(update(Job).where(*_held_by(job_id, attempt)).values(status=final, **values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    stored = session.scalar(select(Job.status).where(Job.id == job_id))
    return JobStatus(stored) if stored is not None else None


def holds_attempt(*, session: Session, job_id: str, attempt: int) -> bool:
    """Whether `attempt` is still the job's newest claim (whatever its status now)."""
    return session.scalar(select(Job.attempt).where(Job.id == job_id)) == attempt


def delete_job(*, session: Session, job_id: str) -> None:
    """Remove a job that was never queued (its broker send failed), so a retry starts clean."""
    session.execute(delete(Job).where(Job.id == job_id))
