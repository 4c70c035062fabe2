"""Sweeps: create one (every trial's spec validated first), read its comparison, list, cancel.

A sweep's trials wait in the database and become ordinary jobs as they are released (store/sweeps.py):
at creation the first `max_parallel`, then one each time a trial ends — by the worker that ends it, by
the reaper every round (so a crash never strands a sweep) and by a trial's cancel. max_parallel is what
keeps a big sweep from starving everyone else: the queue never holds more than that many of its trials.
A search's configurations are sampled by those same releases (store/sweep_search.py), so none is stored at
creation: its space is checked instead, each range's ends and every choice against the JobSpec and limits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.services.datasets import uploaded_shape
from api.services.errors import Conflict, InvalidField, NotFound
from api.services.storable import refuse_nul
from api.services.submission import past_limit
from api.services.sweep_comparison import accounting, compare
from api.services.usage import refuse_job_past_stored_bytes
from api.services.workers import require_gpu_worker
from core.settings import Settings
from store import jobs as job_store
from store import models
from store import sweeps as sweep_store
from store.diagnoses import save_diagnosis
from store.jobs import Cursor
from store.metrics import epoch_curves
from store.models import JobDiagnosis, utcnow
from store.principals import Caller
from store.sweep_search import sampled
from trainwell.catalog import SHIPPED_DATASETS
from trainwell.diagnosis import Diagnosis, DiagnosisStatus
from trainwell.job import JobStatus
from trainwell.model_size import DATASET_SHAPES
from trainwell.spec import JobSpec
from trainwell.sweep import (
    Comparison,
    EarlyStop,
    Search,
    Sweep,
    SweepAccounting,
    SweepCell,
    SweepCounts,
    SweepFinding,
    SweepPage,
    SweepRequest,
    SweepStatus,
)
from trainwell.sweep_grid import Cell, GridError, cells, expand, written_base
from trainwell.sweep_search import check_space

CANCELLED_WAITING = Diagnosis(
    status=DiagnosisStatus.not_applicable, summary="No verdict: the sweep was cancelled before the trial started."
)
# the curves the comparative findings read, per succeeded trial, once the sweep has ended
CURVE_METRICS = ("train_loss", "val_loss", "val_accuracy")


@dataclass(frozen=True)
class Created:
    sweep: Sweep
    replayed: bool = False


def create_sweep(
    *, session: Session, caller: Caller, settings: Settings, request: SweepRequest, idempotency_key: str | None
) -> Created:
    """Validate every trial, store the sweep and release its first trials; a replayed key answers the sweep
    it created. Nothing is stored when any cell is refused (InvalidField naming it)."""
    request_json = request.model_dump(mode="json", exclude_unset=True, by_alias=True)
    refuse_nul(request_json)
    if idempotency_key is not None:
        existing = _replay(session, caller, idempotency_key, request_json)
        if existing is not None:
            return Created(existing, replayed=True)
    trial_rows, checked, planned = _expand(request, settings)
    for spec, cell, field in checked:
        _check_limits(session, caller, settings, spec, cell=cell, field=field)
        if request.early_stop is not None:
            _check_early_stop(request.early_stop, spec, cell=cell, field=field)
    if request.max_parallel > settings.max_active_jobs:
        raise InvalidField(
            "max_parallel",
            f"at most your active-jobs limit, {settings.max_active_jobs}",
            "invalid_request",
            detail=f"at most {settings.max_active_jobs}",
        )
    refuse_job_past_stored_bytes(session=session, caller=caller, settings=settings)  # its trials are jobs
    sweep_id, now = str(uuid.uuid4()), utcnow()
    row = {
        "id": sweep_id,
        "principal_id": caller.principal_id,
        "name": request.name,
        "status": SweepStatus.running.value,
        "request": request_json,
        "base": JobSpec.model_validate(written_base(request)).model_dump(mode="json"),  # as its trials run
        "grid": request.grid or {},
        "search": None if request.search is None else request.search.model_dump(mode="json", by_alias=True),
        "seeds": request.seeds,
        "max_parallel": request.max_parallel,
        "trials": planned,
        "idempotency_key": idempotency_key,
        "created_at": now,
    }
    try:
        sweep_store.create_sweep(session=session, sweep=row, trials=trial_rows)
        released = sweep_store.release_trials(
            session=session, sweep_id=sweep_id, max_active_jobs=settings.max_active_jobs, now=now
        )
        session.commit()
    except IntegrityError:  # a concurrent request with the same key stored its sweep first
        session.rollback()
        if idempotency_key is None:
            raise
        existing = _replay(session, caller, idempotency_key, request_json)
        if existing is None:
            raise
        return Created(existing, replayed=True)
    try:
        sweep_store.send_released(session=session, released=released)
    except Exception:
        sweep_store.delete_sweep(session=session, sweep_id=sweep_id)  # a failed create stores nothing
        session.commit()
        raise
    stored = sweep_store.get_sweep(session=session, sweep_id=sweep_id, principal_id=None)
    assert stored is not None
    return Created(sweep_resource(session=session, sweep=stored, detail=False))


def _replay(session: Session, caller: Caller, key: str, request_json: dict[str, Any]) -> Sweep | None:
    existing = sweep_store.get_sweep_by_idempotency_key(session=session, principal_id=caller.principal_id, key=key)
    if existing is None:
        return None
    if existing.request != request_json:
        raise Conflict("idempotency_conflict", "Idempotency-Key was already used with a different sweep")
    return sweep_resource(session=session, sweep=existing, detail=False)


# a spec to check against the deployment's limits, the grid cell it is, or the search field whose value it tries
Checked = tuple[JobSpec, int | None, str | None]


def _expand(request: SweepRequest, settings: Settings) -> tuple[list[dict[str, Any]], list[Checked], int]:
    """A grid's trial rows, or none for a search (its releases sample them); the specs to check against the
    limits; and the trials the sweep will run."""
    if request.grid is not None and request.search is not None:
        raise InvalidField("search", "a sweep has a grid or a search, not both", "invalid_sweep")
    if request.grid is None and request.search is None:
        raise InvalidField("grid", "a sweep needs a grid (or a search)", "invalid_sweep")
    try:
        if request.search is not None:
            checked = check_space(request, max_trials=settings.max_sweep_trials)
            return [], [(spec, None, field) for field, spec in checked], request.search.trials * len(request.seeds)
        trials = expand(request, max_trials=settings.max_sweep_trials)
    except GridError as exc:
        facts: dict[str, Any] = {}
        if exc.cell is not None:
            facts["cell"] = exc.cell
        if exc.allowed is not None:
            facts["allowed"] = exc.allowed
        raise InvalidField(exc.field, exc.message, "invalid_sweep", **facts) from None
    rows = [
        {"position": position, "cell": trial.cell.index, "seed": trial.seed, "spec": trial.spec.model_dump(mode="json")}
        for position, trial in enumerate(trials)
    ]
    distinct = {trial.cell.index: trial.spec for trial in trials}  # a cell's seeds differ only in the seed
    return rows, [(spec, cell, None) for cell, spec in distinct.items()], len(trials)


def _check_limits(
    session: Session, caller: Caller, settings: Settings, spec: JobSpec, *, cell: int | None, field: str | None
) -> None:
    """A cell's spec (or a search's extreme) against the deployment's limits, as a submission would be checked."""
    shape = DATASET_SHAPES.get(spec.dataset.name) or uploaded_shape(session=session, caller=caller, spec=spec)
    if shape is None:
        raise InvalidField("base.dataset.name", f"{spec.dataset.name!r} is neither built in nor uploaded")
    exceeded = settings.limits.exceeded(spec, shape)
    if exceeded is not None:
        refused = past_limit(exceeded, settings.limits)
        if cell is not None:
            raise InvalidField(refused.field, f"cell {cell}: {refused.message}", refused.code, cell=cell)
        raise InvalidField(field or refused.field, f"{refused.field}: {refused.message}", refused.code)
    if spec.device == "cuda":
        require_gpu_worker(session=session, settings=settings, spec=spec)


def _check_early_stop(early_stop: EarlyStop, spec: JobSpec, *, cell: int | None, field: str | None) -> None:
    """ASHA needs a holdout trial with a rung below its last epoch and reporting the rung's metric."""
    where = f"cell {cell}: " if cell is not None else f"{field}: " if field else ""
    asha = early_stop.asha
    if getattr(spec.dataset.validation, "kfold", 1) != 1:
        message = f"{where}ASHA judges a trial's epochs on one holdout split; each fold of a k-fold trial restarts them"
        raise InvalidField("early_stop.asha", message, "invalid_sweep")
    if not asha.rungs(spec.epochs):
        message = f"{where}the first rung's epoch must be below the trial's {spec.epochs} epochs"
        raise InvalidField("early_stop.asha.min_epochs", message, "invalid_sweep")
    shipped = SHIPPED_DATASETS.get(spec.dataset.name)
    reported = {"classification": ("val_loss", "val_accuracy"), "regression": ("val_loss", "val_mae", "val_r2")}
    if shipped is not None and asha.metric not in reported[shipped.task]:
        message = f"{where}{spec.dataset.name} is {shipped.task}: its trials report {', '.join(reported[shipped.task])}"
        raise InvalidField("early_stop.asha.metric", message, "invalid_sweep", allowed=list(reported[shipped.task]))


def own_sweep(*, session: Session, caller: Caller, sweep_id: str) -> models.Sweep:
    sweep = sweep_store.get_sweep(session=session, sweep_id=sweep_id, principal_id=caller.scope)
    if sweep is None:
        raise NotFound("sweep", sweep_id)
    return sweep


def read_sweep(*, session: Session, caller: Caller, sweep_id: str) -> Sweep:
    return sweep_resource(session=session, sweep=own_sweep(session=session, caller=caller, sweep_id=sweep_id))


def read_sweeps(*, session: Session, caller: Caller, limit: int, cursor: Cursor | None) -> SweepPage:
    sweeps, next_position = sweep_store.list_sweeps(
        session=session, principal_id=caller.scope, limit=limit, cursor=cursor
    )
    counts = sweep_store.status_counts(session=session, sweep_ids=[sweep.id for sweep in sweeps])
    return SweepPage(
        data=[_resource(sweep, counts[sweep.id]) for sweep in sweeps],
        next_cursor=next_position.encode() if next_position else None,
    )


def cancel_sweep(*, session: Session, caller: Caller, sweep_id: str) -> Sweep:
    """Release nothing more and cancel every unfinished trial; a sweep already ended is a Conflict."""
    sweep = own_sweep(session=session, caller=caller, sweep_id=sweep_id)
    if not sweep_store.cancel_sweep(session=session, sweep_id=sweep.id, now=utcnow()):
        raise Conflict("sweep_finished", f"sweep {sweep.id!r} already {sweep.status}")
    for job in sweep_store.unfinished_jobs(session=session, sweep_id=sweep.id):
        job_store.request_cancel(session=session, job=job)
        if job.status == JobStatus.cancelled.value:  # queued: it never starts, and is never diagnosed
            save_diagnosis(session=session, job_id=job.id, diagnosis=CANCELLED_WAITING)
    session.commit()
    session.refresh(sweep)
    return sweep_resource(session=session, sweep=sweep)


def release(*, session: Session, sweep_id: str, settings: Settings) -> None:
    """Release what the sweep has room for and end it when nothing is left; send after the commit."""
    released = sweep_store.advance(
        session=session, sweep_id=sweep_id, max_active_jobs=settings.max_active_jobs, now=utcnow()
    )
    session.commit()
    sweep_store.send_released(session=session, released=released)


def sweep_resource(*, session: Session, sweep: models.Sweep, detail: bool = True) -> Sweep:
    """The Sweep resource; with `detail`, its table, best cell and findings — kept on the row once the
    sweep has ended, computed from the trials' summaries and diagnoses while it runs."""
    counts = sweep_store.status_counts(session=session, sweep_ids=[sweep.id])[sweep.id]
    resource = _resource(sweep, counts)
    if not detail:
        return resource
    result = sweep.result
    if result is None:
        result = _comparison(session, sweep)
        if SweepStatus(sweep.status).is_final:
            sweep_store.store_result(session=session, sweep_id=sweep.id, result=result)
            session.commit()
    spent = result.get("accounting")  # a result kept before the accounting was: counted from the trials
    if spent is None:
        spent = _accounting(sweep, sweep_store.trial_rows(session=session, sweep_id=sweep.id)).model_dump()
    return resource.model_copy(
        update={
            "table": [SweepCell.model_validate(row) for row in result["table"]],
            "best": Comparison.model_validate(result["best"]) if result["best"] else None,
            "findings": [SweepFinding.model_validate(finding) for finding in result["findings"]],
            "accounting": SweepAccounting.model_validate(spent),
        }
    )


def _resource(sweep: models.Sweep, counts: dict[str, int]) -> Sweep:
    tally = SweepCounts(**{status: counts.get(status, 0) for status in SweepCounts.model_fields})
    unsampled = sweep.trials - sum(counts.values())  # a search's configurations not sampled yet wait too
    tally = tally.model_copy(update={"waiting": tally.waiting + max(unsampled, 0)})
    if sweep.status == SweepStatus.cancelled.value:  # what never left the database never will
        tally = tally.model_copy(update={"waiting": 0, "cancelled": tally.cancelled + tally.waiting})
    return Sweep(
        id=sweep.id,
        name=sweep.name,
        status=SweepStatus(sweep.status),
        base=JobSpec.model_validate(sweep.base),
        grid=sweep.grid,
        search=None if sweep.search is None else Search.model_validate(sweep.search),
        seeds=sweep.seeds,
        max_parallel=sweep.max_parallel,
        early_stop=SweepRequest.model_validate(sweep.request).early_stop,
        created_at=sweep.created_at,
        finished_at=sweep.finished_at,
        trials=sweep.trials,
        counts=tally,
    )


def _comparison(session: Session, sweep: models.Sweep) -> dict[str, Any]:
    trials = sweep_store.trial_rows(session=session, sweep_id=sweep.id)
    job_ids = [trial.job_id for trial in trials if trial.job_id is not None]
    verdicts, sharpness = _diagnosed(session, job_ids)
    curves = None
    if SweepStatus(sweep.status).is_final:  # the curves cost a read per trial: once, when the result is kept
        succeeded = [t.job_id for t in trials if t.job_id is not None and t.status is JobStatus.succeeded]
        curves = epoch_curves(session=session, job_ids=succeeded, names=list(CURVE_METRICS), fold=0)
    if sweep.search is None:
        rows = cells(sweep.grid)
    else:  # a search's rows are its configurations, each showing the values its sampler drew
        rows = [Cell(config.index, config.params) for config in sampled(session=session, sweep_id=sweep.id)]
    compared = compare(cells=rows, trials=trials, verdicts=verdicts, sharpness=sharpness, curves=curves)
    return {
        "table": [row.model_dump(mode="json") for row in compared.table],
        "best": compared.best.model_dump(mode="json") if compared.best else None,
        "findings": [finding.model_dump(mode="json") for finding in compared.findings],
        "accounting": _accounting(sweep, trials).model_dump(mode="json"),
    }


def _accounting(sweep: models.Sweep, trials: list[sweep_store.TrialRow]) -> SweepAccounting:
    epochs, folds = sweep_store.planned_epochs(sweep.base)  # a trial not sampled yet runs the base's
    return accounting(trials, planned=sweep.trials, epochs_full_each=epochs * folds)


def _diagnosed(session: Session, job_ids: list[str]) -> tuple[dict[str, str], dict[str, float]]:
    """job id → verdict, and job id → λmax, from the trials' stored diagnoses."""
    verdicts: dict[str, str] = {}
    sharpness: dict[str, float] = {}
    if not job_ids:
        return verdicts, sharpness
    rows = session.execute(
        select(JobDiagnosis.job_id, JobDiagnosis.verdict, JobDiagnosis.body).where(JobDiagnosis.job_id.in_(job_ids))
    )
    for job_id, verdict, body in rows:
        if verdict is not None:
            verdicts[job_id] = verdict
        lambda_max = ((body or {}).get("curvature") or {}).get("lambda_max")
        if lambda_max is not None:
            sharpness[job_id] = float(lambda_max)
    return verdicts, sharpness
