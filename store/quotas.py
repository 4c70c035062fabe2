"""The submission quotas in SQL: a job is inserted only while its principal is under both limits,
in one statement, and the counts behind a refusal are read apart.

Each count is bounded: it stops at its limit, so a principal with thousands of queued jobs costs a
submit no more than one with a hundred (a plain COUNT would grow with the backlog, and every
submission would pay for it). The statements are built once, with bound parameters, so each execution
hits SQLAlchemy's compiled cache instead of building and compiling a query per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from store.jobs import NEW_JOB_COLUMNS
from store.models import Job
from trainwell.job import JobOrigin, JobStatus

ACTIVE = (JobStatus.queued.value, JobStatus.running.value, JobStatus.cancelling.value)
# The rate window counts what callers submit. A sweep's trials are released by the service as earlier
# ones end (their pace is max_parallel's), so they hold active-job slots but never a submission's.
SUBMITTED = Job.origin != JobOrigin.sweep.value


@dataclass(frozen=True)
class Limits:
    principal_id: int
    since: datetime  # the start of the rate window
    max_active: int  # queued + running jobs at once
    max_recent: int  # jobs created since `since`

    def params(self) -> dict[str, Any]:
        """The bound parameters both statements read."""
        return {
            "principal_id": self.principal_id,
            "since": self.since,
            "max_active": self.max_active,
            "max_recent": self.max_recent,
        }


@dataclass(frozen=True)
class Usage:
    active: int  # queued + running jobs, counted up to the active limit
    recent: int  # jobs created since the window began, counted up to the rate limit


def _statements() -> tuple[Select[int, int], ReturningInsert[str]]:
    """The usage query and the insert within limits, both reading the same two bounded counts."""
    mine = Job.principal_id == bindparam("principal_id")
    # served by ix_jobs_principal_status and ix_jobs_principal_created; LIMIT bounds each scan
    active_jobs = select(Job.id).where(mine, Job.status.in_(ACTIVE)).limit(bindparam("max_active"))
    recent_jobs = (
        select(Job.id).where(mine, Job.created_at >= bindparam("since"), SUBMITTED).limit(bindparam("max_recent"))
    )
    active = select(func.count()).select_from(active_jobs.subquery()).scalar_subquery()
    recent = select(func.count()).select_from(recent_jobs.subquery()).scalar_subquery()
    # INSERT INTO jobs (…) SELECT :id, … WHERE active < :max_active AND recent < :max_recent — the check
    # and the insert in one round trip. Concurrent submissions (READ COMMITTED) do not see each other's
    # uncommitted rows, so a burst can pass a limit by the number of requests in flight: a quota can
    # afford that, and it needs no lock.
    row = select(*(bindparam(name, type_=Job.__table__.c[name].type) for name in NEW_JOB_COLUMNS))
    within_limits = row.where(active < bindparam("max_active"), recent < bindparam("max_recent"))
    # the row count of an INSERT … SELECT is not reported reliably; a returned id is
    return select(active, recent), insert(Job).from_select(NEW_JOB_COLUMNS, within_limits).returning(Job.id)


_USAGE, _INSERT_WITHIN_LIMITS = _statements()


async def insert_within_limits(*, connection: AsyncConnection, job: dict[str, Any], limits: Limits) -> bool:
    """Insert the job row (NEW_JOB_COLUMNS) unless its principal is at a limit; True when inserted."""
    if job["principal_id"] != limits.principal_id:
        raise ValueError("a job is counted against its own principal's limits")
    result = await connection.execute(_INSERT_WITHIN_LIMITS, {**job, **limits.params()})
    return result.first() is not None


def usage(*, session: Session, limits: Limits) -> Usage:
    active, recent = session.execute(_USAGE, limits.params()).one()
    return Usage(active=active, recent=recent)


def oldest_of_newest(*, session: Session, principal_id: int, since: datetime, count: int) -> datetime | None:
    """When the `count`-th newest submission since `since` was made: the window frees a slot after it."""
    query = (
        select(Job.created_at)
        .where(Job.principal_id == principal_id, Job.created_at >= since, SUBMITTED)
        .order_by(Job.created_at.desc())
        .offset(count - 1)
        .limit(1)
    )
    return session.scalar(query)
