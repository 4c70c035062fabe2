"""Runs from the user's own loop: create one, ingest its metric batches, finish it (store/runs.py).

A batch is checked whole before anything of it is written, and refused whole: each refusal names the
first point at fault (`points[i]`), so nothing of a refused batch is stored.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from functools import partial

from anyio.to_thread import run_sync
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.orm import Session

from api.services.errors import Conflict, InvalidField, NotFound
from api.services.jobs import job_public
from api.services.quotas import insert_within_quotas, submission_limits
from api.services.run_rate import admit_points
from api.services.storable import refuse_nul
from core.broker import TRAIN_QUEUE, enqueue_diagnosis
from core.settings import Settings
from store import jobs as job_store
from store import models
from store import runs as run_store
from store.metrics import MetricRow, record_metrics
from store.principals import Caller
from trainwell.job import Job, JobOrigin, JobStatus
from trainwell.metrics import CUSTOM_PREFIX, is_metric_name
from trainwell.run import RunPoint, RunPointsAccepted, RunSpec

log = logging.getLogger(__name__)


async def create_run(*, session: Session, caller: Caller, settings: Settings, spec: RunSpec) -> Job:
    """A new external run, running at once; it counts against the caller's job quotas like a submission.
    Its diagnosis runs on the `train` queue, which every worker consumes."""
    refuse_nul(spec.model_dump(mode="json"))
    row = run_store.new_run(principal_id=caller.principal_id, spec=spec, queue=TRAIN_QUEUE)
    await insert_within_quotas(session=session, job=row, limits=submission_limits(caller=caller, settings=settings))
    return await run_sync(partial(_started, session=session, run_id=row["id"]))


def _started(*, session: Session, run_id: str) -> Job:
    run_store.mark_started(session=session, run_id=run_id)
    session.commit()
    return job_public(session=session, job=_own_run_row(session, run_id))


def own_run(*, session: Session, caller: Caller, run_id: str) -> models.Job:
    """The caller's external run, or NotFound (another principal's run, or a trainwell job, is none)."""
    job = job_store.get_job(session=session, job_id=run_id, principal_id=caller.scope)
    if job is None or job.origin != JobOrigin.external.value:
        raise NotFound("run", run_id)
    return job


def _own_run_row(session: Session, run_id: str) -> models.Job:
    job = job_store.get_job(session=session, job_id=run_id, principal_id=None)
    assert job is not None  # just inserted
    return job


def ingest_points(
    *, session: Session, settings: Settings, run: models.Job, points: list[RunPoint]
) -> RunPointsAccepted:
    """Store the batch's finite points in one transaction; a non-finite value marks the run diverged."""
    if JobStatus(run.status) is not JobStatus.running:
        raise Conflict("run_finished", f"run {run.id!r} is {run.status}: it takes no more points")
    if len(points) > settings.max_run_points_per_batch:
        raise InvalidField(
            f"points[{settings.max_run_points_per_batch}]",
            f"a batch holds at most {settings.max_run_points_per_batch} points; this one has {len(points)}",
            code="batch_too_large",
            limit=settings.max_run_points_per_batch,
        )
    _check_names(points)
    _check_order(session, run.id, points)
    admit_points(principal_id=run.principal_id, points=len(points), per_minute=settings.run_points_per_minute)
    if not run_store.hold_running(session=session, run_id=run.id):
        raise Conflict("run_finished", f"run {run.id!r} was finished: it takes no more points")
    finite = [p for p in points if math.isfinite(p.value)]
    non_finite = [p for p in points if not math.isfinite(p.value)]
    record_metrics(
        session=session,
        job_id=run.id,
        rows=[MetricRow(name=p.name, fold=p.fold, epoch=p.epoch, step=p.step, value=p.value) for p in finite],
    )
    if points:
        newest = max(points, key=lambda p: (p.fold, p.epoch))
        run_store.record_progress(session=session, run_id=run.id, epoch=newest.epoch, fold=newest.fold)
    if non_finite:
        first = non_finite[0]
        run_store.record_divergence(
            session=session,
            run_id=run.id,
            message=f"{first.name} became {first.value} at epoch {first.epoch}, step {first.step}",
        )
    session.commit()
    diverged = bool(non_finite) or run.error_reason is not None
    return RunPointsAccepted(
        run_id=run.id, accepted=len(points), stored=len(finite), non_finite=len(non_finite), diverged=diverged
    )


def _check_names(points: list[RunPoint]) -> None:
    for index, point in enumerate(points):
        if not is_metric_name(point.name):
            raise InvalidField(
                f"points[{index}].name",
                f"unknown metric {point.name!r}: use a shared metric name (GET /openapi.json, MetricName) "
                f"or your own as {CUSTOM_PREFIX}<letters, digits, _ . - />",
                detail="unknown metric",
            )


def _check_order(session: Session, run_id: str, points: list[RunPoint]) -> None:
    """Each series' (fold, step) must rise within the batch and past what is stored; a point at or before
    the stored newest is taken only as a re-send of a point already stored (a retried batch)."""
    previous: dict[str, tuple[int, int, int]] = {}  # name → (fold, step, index) of its last point here
    for index, point in enumerate(points):
        last = previous.get(point.name)
        if last is not None and (point.fold, point.step) <= last[:2]:
            raise InvalidField(
                f"points[{index}].step",
                f"{point.name} step {point.step} (fold {point.fold}) is not after points[{last[2]}]'s step "
                f"{last[1]} (fold {last[0]}): each series' steps must rise",
                code="steps_out_of_order",
            )
        previous[point.name] = (point.fold, point.step, index)
    stored = run_store.latest_positions(session=session, run_id=run_id, names=previous)
    behind: dict[tuple[str, int, int, int], int] = {}
    for index, point in enumerate(points):
        newest = stored.get(point.name)
        if newest is not None and (point.fold, point.step) <= newest:
            behind[(point.name, point.fold, point.epoch, point.step)] = index
    if not behind:
        return
    resent = run_store.stored_keys(session=session, run_id=run_id, keys=list(behind))
    by_index = defaultdict(list)
    for key, index in behind.items():
        if key not in resent:
            by_index[index].append(key)
    if by_index:
        index = min(by_index)
        point, (fold, step) = points[index], stored[points[index].name]
        raise InvalidField(
            f"points[{index}].step",
            f"{point.name} step {point.step} (fold {point.fold}) is not after the stored step {step} (fold {fold}), "
            "and is no re-send of a stored point: each series' steps must rise",
            code="steps_out_of_order",
        )


def finish_run(*, session: Session, run: models.Job) -> Job:
    """End the run and send its diagnosis; a send that fails is made again by the reaper once the
    diagnosis's lease (the finish's stamp) goes stale."""
    status = run_store.finish_run(session=session, run_id=run.id)
    if status is None:
        raise Conflict("run_finished", f"run {run.id!r} is {run.status}: it was finished already")
    session.commit()
    try:
        enqueue_diagnosis(run.id, run.queue)
    except BrokerError:  # the run is finished all the same: the reaper sends it later (store/lost_work.py)
        log.warning("run %s: its diagnosis could not be sent now; the reaper will send it", run.id)
    session.refresh(run)
    return job_public(session=session, job=run)
