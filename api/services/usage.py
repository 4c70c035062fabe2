"""A principal's usage: its jobs, its stored bytes and its quotas with what is left of each; and the
refusal of an upload or a job past TRAINWELL_MAX_STORED_BYTES.

The bytes are summed from the rows that record the files (store/stored_bytes.py). Two concurrent uploads
both read the sum before either row exists, so a burst can pass the limit by what is in flight: a quota
can afford that (as the submission quotas do, store/quotas.py), and it needs no lock.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.services.errors import QuotaExceeded, TooLarge
from api.services.quotas import submission_limits
from core.settings import Settings
from store.job_stats import principal_job_counts
from store.principals import Caller
from store.quotas import ACTIVE, usage
from store.stored_bytes import stored_bytes
from trainwell.job import JobStatus
from trainwell.usage import JobCounts, Quota, Quotas, StoredBytes, Usage

# Stored bytes free only when the principal deletes something, which no clock predicts; a client that
# retries on 429 is told to wait a while rather than spin.
STORED_RETRY_SECONDS = 300


def read_usage(*, session: Session, caller: Caller, settings: Settings) -> Usage:
    counts = principal_job_counts(session=session, principal_id=caller.principal_id)
    by_status = {status.value: counts.get(status.value, 0) for status in JobStatus}
    active = sum(by_status[status] for status in ACTIVE)
    stored = stored_bytes(session=session, principal_id=caller.principal_id)
    recent = usage(session=session, limits=submission_limits(caller=caller, settings=settings)).recent
    return Usage(
        jobs=JobCounts(by_status=by_status, active=active, total=sum(by_status.values())),
        bytes=StoredBytes(by_kind=stored, total=sum(stored.values())),
        quotas=Quotas(
            max_active_jobs=_quota(settings.max_active_jobs, active),
            submissions_per_minute=_quota(settings.submissions_per_minute, recent),
            max_stored_bytes=_quota(settings.max_stored_bytes, sum(stored.values())),
        ),
    )


def _quota(limit: int | None, used: int) -> Quota:
    return Quota(limit=limit, used=used, left=None if limit is None else max(0, limit - used))


def refuse_upload_past_stored_bytes(*, session: Session, caller: Caller, settings: Settings, size: int) -> None:
    """413 when storing `size` more bytes would take the caller past TRAINWELL_MAX_STORED_BYTES."""
    limit = settings.max_stored_bytes
    if limit is None:
        return
    used = sum(stored_bytes(session=session, principal_id=caller.principal_id).values())
    if used + size > limit:
        raise TooLarge(
            "stored_bytes_exceeded",
            f"this dataset needs {size} bytes and you store {used} of your {limit} (TRAINWELL_MAX_STORED_BYTES); "
            "delete jobs or datasets you no longer need (GET /v1/usage shows what you store)",
            {"stored_bytes": used, "dataset_bytes": size, "max_stored_bytes": limit},
        )


def refuse_job_past_stored_bytes(*, session: Session, caller: Caller, settings: Settings) -> None:
    """429 while the caller stores TRAINWELL_MAX_STORED_BYTES or more: a job writes checkpoints."""
    limit = settings.max_stored_bytes
    if limit is None:
        return
    used = sum(stored_bytes(session=session, principal_id=caller.principal_id).values())
    if used >= limit:
        raise QuotaExceeded(
            "stored_bytes_exceeded",
            f"you store {used} bytes, at your limit of {limit} (TRAINWELL_MAX_STORED_BYTES), and a job writes "
            "checkpoints; delete jobs or datasets you no longer need (GET /v1/usage shows what you store)",
            retry_after=STORED_RETRY_SECONDS,
            details={"stored_bytes": used, "max_stored_bytes": limit},
        )
