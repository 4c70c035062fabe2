"""Submitting a job: check, store and enqueue, the one path every submission takes (user, remedy).

A submission is the service's hottest write, and each round trip and thread hop shows in its
throughput and tail latency (bench/service.py): the common path is one autocommitted statement
(the quota counts and the insert) and one LPUSH, both awaited on the event loop. Only the rare
steps (an uploaded dataset, an Idempotency-Key, a refusal) read through the session, in a thread.

A keyed submission is replayable only once its message is in the broker: its row is inserted unsent
(`enqueued_at` NULL) and marked sent after the send, one more statement on that path only. A concurrent
retry that finds the row unsent waits briefly for the mark and answers 503 if it does not come (the
first request's send may still fail, and its row be removed): a replay never names a job that is not
durably queued.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from anyio.to_thread import run_sync
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.services.datasets import uploaded_shape
from api.services.errors import Conflict, InvalidField
from api.services.jobs import job_public, job_resource
from api.services.quotas import insert_within_quotas, submission_limits
from api.services.storable import refuse_nul
from api.services.usage import refuse_job_past_stored_bytes
from api.services.workers import require_gpu_worker
from core.broker import enqueue_training_async, queue_for
from core.settings import Settings
from store import jobs as job_store
from store import models
from store.db import autocommit_connection
from store.models import utcnow
from store.principals import Caller
from store.stale_jobs import mark_sent
from trainwell.job import Job, JobOrigin
from trainwell.limits import LimitExceeded, ServiceLimits
from trainwell.model_size import DATASET_SHAPES, DataShape
from trainwell.spec import JobSpec

# How long a retry waits for the first request with its key to get its job queued: past the common send
# (a millisecond) by far, and short of a client's timeout; the first request's own send gives up within
# seconds when the broker does not answer (core/task_messages.py), so a 503 here is that outage's answer.
REPLAY_WAIT_SECONDS = 3.0


@dataclass(frozen=True)
class Submission:
    job: Job
    replayed: bool = False  # an earlier request with the same Idempotency-Key created it


async def submit_job(
    *,
    session: Session,
    caller: Caller,
    settings: Settings,
    spec: JobSpec,
    idempotency_key: str | None = None,
    origin: JobOrigin = JobOrigin.user,
    parent_id: str | None = None,
) -> Submission:
    """Store and enqueue a job, or replay the one a repeated `idempotency_key` created.

    Refuses a spec that cannot be stored (InvalidField), one past the deployment's limits
    (InvalidField), a key used for another spec (Conflict), and a submission past a quota
    (QuotaExceeded). A job whose message cannot be sent is removed again, and the error raised.
    """
    spec_json = spec.model_dump(mode="json")
    refuse_nul(spec_json)
    shape = DATASET_SHAPES.get(spec.dataset.name)
    if shape is None:
        shape = await run_sync(partial(_uploaded_shape, session=session, caller=caller, spec=spec))
    if idempotency_key is not None:
        existing = await _replay_sent(session, caller.principal_id, idempotency_key, spec_json, rollback=False)
        if existing is not None:
            return existing  # a replay is not a new submission: no limit or quota applies
    exceeded = settings.limits.exceeded(spec, shape)
    if exceeded is not None:
        raise past_limit(exceeded, settings.limits)
    if settings.max_stored_bytes is not None:  # off by default: no sum on the common path
        await run_sync(partial(refuse_job_past_stored_bytes, session=session, caller=caller, settings=settings))
    if spec.device == "cuda":  # the rare device whose queue may have no consumer
        await run_sync(partial(require_gpu_worker, session=session, settings=settings, spec=spec))
    row = job_store.new_job(
        principal_id=caller.principal_id,
        spec=spec,
        spec_json=spec_json,
        queue=queue_for(spec.device),
        idempotency_key=idempotency_key,
        origin=origin,
        parent_id=parent_id,
    )
    if idempotency_key is not None:
        row["enqueued_at"] = None  # not replayable until sent (the module docstring)
    limits = submission_limits(caller=caller, settings=settings)
    try:
        await insert_within_quotas(session=session, job=row, limits=limits)
    except IntegrityError:  # a concurrent request with the same key won the insert
        if idempotency_key is None:
            raise
        existing = await _replay_sent(session, caller.principal_id, idempotency_key, spec_json, rollback=True)
        if existing is None:  # the winner's send failed and its row is gone
            raise BrokerError("the first request with this Idempotency-Key could not queue its job") from None
        return existing
    try:
        await enqueue_training_async(row["id"], row["queue"])
    except Exception:
        await run_sync(partial(_forget, session, row["id"]))
        raise
    if idempotency_key is not None:
        sent_at = utcnow()
        async with autocommit_connection() as connection:
            await mark_sent(connection=connection, job_id=row["id"], now=sent_at)
        row["enqueued_at"] = sent_at
    # a new job: no verdict to look up, and the spec is validated already
    return Submission(job_resource(models.Job(**row), None, spec))


def past_limit(exceeded: LimitExceeded, limits: ServiceLimits) -> InvalidField:
    """The 422 for a spec past a limit; its details entry gives the bound, or the parameter count."""
    if exceeded.parameters is not None:
        return InvalidField(
            exceeded.field,
            exceeded.message,
            exceeded.code,
            detail="too many parameters",
            parameters=exceeded.parameters,
        )
    return InvalidField(exceeded.field, exceeded.message, exceeded.code, detail=f"at most {limits.max_epochs}")


def _uploaded_shape(*, session: Session, caller: Caller, spec: JobSpec) -> DataShape:
    shape = uploaded_shape(session=session, caller=caller, spec=spec)
    if shape is None:  # the spec's validation admits only built-in names and uploaded-dataset ids
        raise ValueError(f"dataset {spec.dataset.name!r} is neither built in nor uploaded")
    return shape


async def _replay_sent(
    session: Session, principal_id: int, key: str, spec_json: dict[str, Any], *, rollback: bool
) -> Submission | None:
    """The job an earlier request with this key created and queued; None when there is none.

    One that is stored but not yet sent is waited for (REPLAY_WAIT_SECONDS), then refused with 503;
    one whose row went while waiting (its send failed) is None. `rollback`: after losing the insert
    race, so no snapshot of our first lookup hides the winner.
    """
    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    while True:
        found = await run_sync(partial(_replay, session, principal_id, key, spec_json, rollback=rollback))
        if found is None or found.replayed:
            return found
        if time.monotonic() > deadline:
            raise BrokerError("the first request with this Idempotency-Key is still queueing its job; retry later")
        rollback = True  # read the row anew
        await asyncio.sleep(0.05)


def _replay(
    session: Session, principal_id: int, key: str, spec_json: dict[str, Any], *, rollback: bool
) -> Submission | None:
    """The job an earlier request with this key created, if any (a key is bound to one spec); one not
    yet sent comes back with `replayed` False."""
    if rollback:
        session.rollback()
    existing = job_store.get_job_by_idempotency_key(session=session, principal_id=principal_id, key=key)
    if existing is None:
        return None
    if existing.spec != spec_json:
        raise Conflict("idempotency_conflict", "Idempotency-Key was already used with a different job spec")
    if existing.enqueued_at is None:
        return Submission(job_resource(existing, None, JobSpec.model_validate(existing.spec)), replayed=False)
    return Submission(job_public(session=session, job=existing), replayed=True)


def _forget(session: Session, job_id: str) -> None:
    """Remove a job whose message could not be sent: nothing stored for a failed submit, a retry starts clean."""
    job_store.delete_job(session=session, job_id=job_id)
    session.commit()
