"""Submission quotas: too many jobs at once, or too many submissions in a minute, is a
QuotaExceeded that says which and when to retry.

Counted in the database, not in process memory, so every API process sees the same numbers.
The insert itself enforces the two counts (store/quotas.py); the counts are read again only to say
why a submission was refused. They can have moved in between: a job ended or was cancelled (the
active count fell), or a concurrent submission's row was removed again (its send failed). A refusal
is therefore told only from a limit the fresh counts still show used up; when neither is, the slot
freed meanwhile and the insert is tried again, so a submission within both quotas is never refused.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from anyio.to_thread import run_sync
from sqlalchemy.orm import Session

from api.services.errors import QuotaExceeded
from core.settings import Settings
from store.db import autocommit_connection
from store.models import utcnow
from store.principals import Caller
from store.quotas import Limits, insert_within_limits, oldest_of_newest, usage

WINDOW = timedelta(minutes=1)
# A slot frees when one of the caller's jobs ends, which no count predicts: 30 s keeps retries rare.
ACTIVE_RETRY_SECONDS = 30
# Inserts tried per submission: a refused insert whose limit has freed by the time the counts are read
# again is tried once more; missing twice, the client is asked to retry in a second.
INSERT_ATTEMPTS = 2


def submission_limits(*, caller: Caller, settings: Settings) -> Limits:
    return Limits(
        principal_id=caller.principal_id,
        since=utcnow() - WINDOW,
        max_active=settings.max_active_jobs,
        max_recent=settings.submissions_per_minute,
    )


async def insert_within_quotas(*, session: Session, job: dict[str, Any], limits: Limits) -> None:
    """Store the new job's row (store.jobs.NEW_JOB_COLUMNS) unless a quota refuses it: then raise the
    QuotaExceeded naming the quota that is used up and when to retry."""
    for _ in range(INSERT_ATTEMPTS):
        async with autocommit_connection() as connection:
            if await insert_within_limits(connection=connection, job=job, limits=limits):
                return
        exceeded = await run_sync(partial(refusal, session=session, limits=limits))
        if exceeded is not None:
            raise exceeded
    # refused, and freed before the counts were read, each time: jobs end and start around the active limit
    raise QuotaExceeded(
        "too_many_active_jobs",
        f"your queued and running jobs are at their limit of {limits.max_active} as others end; retry in 1 s",
        retry_after=1,
    )


def refusal(*, session: Session, limits: Limits) -> QuotaExceeded | None:
    """Which limit a refused submission is at now, and when to retry; None when it is at neither any more."""
    used = usage(session=session, limits=limits)
    if used.active >= limits.max_active:
        return QuotaExceeded(
            "too_many_active_jobs",
            f"{used.active} of your jobs are queued or running; at most {limits.max_active} at once — "
            "wait for some to finish or cancel them",
            retry_after=ACTIVE_RETRY_SECONDS,
        )
    if used.recent < limits.max_recent:
        return None
    now = utcnow()
    oldest = oldest_of_newest(
        session=session, principal_id=limits.principal_id, since=limits.since, count=limits.max_recent
    )
    retry_after = rate_retry_after(oldest, now)
    return QuotaExceeded(
        "rate_limited", f"at most {limits.max_recent} submissions a minute; retry in {retry_after} s", retry_after
    )


def rate_retry_after(oldest: datetime | None, now: datetime) -> int:
    """Whole seconds until the oldest of the newest `max_recent` submissions leaves the window, which
    frees a slot; at least 1 (None: fewer rows than that are left, one was removed after the count)."""
    if oldest is None:
        return 1
    return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
