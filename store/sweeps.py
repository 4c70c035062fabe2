"""Sweep queries: store a sweep and its trials, release trials as jobs, count, list, end.

A release is a compare-and-set on both sides: the sweep row is updated first (its lock, in PostgreSQL,
and SQLite's write lock serialize concurrent releases of one sweep, so max_parallel holds exactly), and
each trial takes its job only while it has none. The worker that ends a trial, the reaper and the API
all release through `release_trials`, commit, and send the released jobs' messages with `send_released`.
A search's next configurations are sampled into waiting trials by that same release (store/sweep_search.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, defer

from core.broker import enqueue_training, queue_for
from store.jobs import Cursor, new_job
from store.models import Job, JobDiagnosis, Sweep, SweepTrial, utcnow
from store.quotas import ACTIVE
from store.stale_jobs import mark_sent_now
from store.sweep_search import sample_waiting
from trainwell.diagnosis import DiagnosisStatus
from trainwell.job import JobOrigin, JobStatus
from trainwell.spec import JobSpec
from trainwell.sweep import SweepStatus

FINAL_DIAGNOSES = [status.value for status in DiagnosisStatus if status.is_final]


@dataclass(frozen=True)
class Released:
    job_id: str
    queue: str


def create_sweep(*, session: Session, sweep: dict[str, Any], trials: Sequence[dict[str, Any]]) -> None:
    """Insert the sweep row and its trial rows (position, cell, seed, spec), none released yet; a search
    has none yet (its releases sample them)."""
    session.execute(insert(Sweep).values(**sweep))
    if trials:  # an empty executemany would insert one row of defaults
        session.execute(insert(SweepTrial), [{"sweep_id": sweep["id"], "job_id": None, **trial} for trial in trials])


def get_sweep(*, session: Session, sweep_id: str, principal_id: int | None) -> Sweep | None:
    query = select(Sweep).where(Sweep.id == sweep_id)
    if principal_id is not None:
        query = query.where(Sweep.principal_id == principal_id)
    return session.scalars(query).one_or_none()


def get_sweep_by_idempotency_key(*, session: Session, principal_id: int, key: str) -> Sweep | None:
    query = select(Sweep).where(Sweep.principal_id == principal_id, Sweep.idempotency_key == key)
    return session.scalars(query).one_or_none()


def delete_sweep(*, session: Session, sweep_id: str) -> None:
    """Remove a sweep whose first messages could not be sent: its trials and jobs go with it."""
    session.execute(update(SweepTrial).where(SweepTrial.sweep_id == sweep_id).values(job_id=None))
    session.execute(delete(Job).where(Job.sweep_id == sweep_id))
    session.execute(delete(Sweep).where(Sweep.id == sweep_id))


def release_trials(*, session: Session, sweep_id: str, max_active_jobs: int, now: datetime) -> list[Released]:
    """Turn the sweep's next waiting trials into queued jobs: as many as keep the sweep within its
    max_parallel and its principal within max_active_jobs, a search's next configurations sampled first
    when fewer trials wait. Nothing for an ended sweep."""
    locked = session.execute(
        update(Sweep)
        .where(Sweep.id == sweep_id, Sweep.status == SweepStatus.running.value)
        .values(released_at=now)
        .returning(Sweep.principal_id, Sweep.max_parallel, Sweep.search)
    ).first()
    if locked is None:
        return []
    principal_id, max_parallel, search = locked
    in_flight = session.scalar(
        select(func.count()).select_from(Job).where(Job.sweep_id == sweep_id, Job.status.in_(ACTIVE))
    )
    principal_active = session.scalar(
        select(func.count()).select_from(
            select(Job.id)
            .where(Job.principal_id == principal_id, Job.status.in_(ACTIVE))
            .limit(max_active_jobs)
            .subquery()
        )
    )
    room = min(max_parallel - (in_flight or 0), max_active_jobs - (principal_active or 0))
    if room <= 0:
        return []
    if search is not None:  # a JSON column's SQL NULL and JSON null both read as None
        sample_waiting(session=session, sweep_id=sweep_id, room=room)
    waiting = session.execute(
        select(SweepTrial.position, SweepTrial.spec)
        .where(SweepTrial.sweep_id == sweep_id, SweepTrial.job_id.is_(None))
        .order_by(SweepTrial.position)
        .limit(room)
    ).all()
    released = []
    for position, spec_json in waiting:
        spec = JobSpec.model_validate(spec_json)
        row = new_job(
            principal_id=principal_id,
            spec=spec,
            spec_json=spec_json,
            queue=queue_for(spec.device),
            origin=JobOrigin.sweep,
            sweep_id=sweep_id,
        )
        row["enqueued_at"] = None  # marked sent after its send (send_released): the reaper finds it if never
        session.execute(insert(Job).values(**row))
        # the sweep row's lock makes this the only release: the trial is still waiting
        session.execute(
            update(SweepTrial)
            .where(SweepTrial.sweep_id == sweep_id, SweepTrial.position == position, SweepTrial.job_id.is_(None))
            .values(job_id=row["id"])
        )
        released.append(Released(row["id"], row["queue"]))
    return released


def send_released(*, session: Session, released: Sequence[Released]) -> None:
    """Send the released trials' messages (after the release's commit: the claim must find the rows
    queued), then mark those sent, in a commit of their own. A send that raises stops there, marking what
    went; a trial left unmarked (its sender died, or the broker refused) is sent by the reaper a lease
    after its release (store/stale_jobs.py waiting_jobs) — not after the long wait for a lost message."""
    sent: list[str] = []
    try:
        for trial in released:
            enqueue_training(trial.job_id, trial.queue)
            sent.append(trial.job_id)
    finally:
        if sent:
            mark_sent_now(session=session, job_ids=sent, now=utcnow())
            session.commit()


def advance(*, session: Session, sweep_id: str, max_active_jobs: int, now: datetime) -> list[Released]:
    """Release what the sweep has room for, and end it when no trial is left to run or running."""
    released = release_trials(session=session, sweep_id=sweep_id, max_active_jobs=max_active_jobs, now=now)
    if not released:
        end_if_done(session=session, sweep_id=sweep_id, now=now)
    return released


def end_if_done(*, session: Session, sweep_id: str, now: datetime) -> bool:
    """running → succeeded once every trial is stored (a search samples them as it goes), none waits, none of
    its jobs is active and each has its final diagnosis (the table's verdicts and sharpness come from them);
    True when it ended now."""
    stored = select(func.count()).where(SweepTrial.sweep_id == sweep_id).scalar_subquery()
    waiting = select(SweepTrial.position).where(SweepTrial.sweep_id == sweep_id, SweepTrial.job_id.is_(None))
    active = select(Job.id).where(Job.sweep_id == sweep_id, Job.status.in_(ACTIVE))
    diagnosed = select(JobDiagnosis.job_id).where(
        JobDiagnosis.job_id == Job.id, JobDiagnosis.status.in_(FINAL_DIAGNOSES)
    )
    undiagnosed = select(Job.id).where(Job.sweep_id == sweep_id, ~diagnosed.exists())
    ended = session.execute(
        update(Sweep)
        .where(
            Sweep.id == sweep_id,
            Sweep.status == SweepStatus.running.value,
            stored >= Sweep.trials,
            ~waiting.exists(),
            ~active.exists(),
            ~undiagnosed.exists(),
        )
        .values(status=SweepStatus.succeeded.value, finished_at=now)
    )
    return bool(ended.rowcount == 1)  # type: ignore[attr-defined]


def cancel_sweep(*, session: Session, sweep_id: str, now: datetime) -> bool:
    """running → cancelled: nothing more is released (the caller cancels the unfinished trials' jobs)."""
    cancelled = session.execute(
        update(Sweep)
        .where(Sweep.id == sweep_id, Sweep.status == SweepStatus.running.value)
        .values(status=SweepStatus.cancelled.value, finished_at=now)
    )
    return bool(cancelled.rowcount == 1)  # type: ignore[attr-defined]


def running_sweeps(*, session: Session, limit: int) -> list[str]:
    """The ids of running sweeps, oldest first (the reaper releases and ends them)."""
    query = select(Sweep.id).where(Sweep.status == SweepStatus.running.value).order_by(Sweep.created_at).limit(limit)
    return list(session.scalars(query))


def sweep_of_job(*, session: Session, job_id: str) -> str | None:
    return session.scalar(select(Job.sweep_id).where(Job.id == job_id))


def status_counts(*, session: Session, sweep_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """sweep id → {job status or "waiting": count}; one query for the jobs, one for the waiting trials."""
    counts: dict[str, dict[str, int]] = {sweep_id: {} for sweep_id in sweep_ids}
    if not sweep_ids:
        return counts
    jobs = (
        select(Job.sweep_id, Job.status, func.count())
        .where(Job.sweep_id.in_(sweep_ids))
        .group_by(Job.sweep_id, Job.status)
    )
    for sweep_id, status, count in session.execute(jobs):
        if sweep_id is not None:  # the IN above admits none; the column's type does
            counts[sweep_id][status] = count
    waiting = (
        select(SweepTrial.sweep_id, func.count())
        .where(SweepTrial.sweep_id.in_(sweep_ids), SweepTrial.job_id.is_(None))
        .group_by(SweepTrial.sweep_id)
    )
    for sweep_id, count in session.execute(waiting):
        counts[sweep_id]["waiting"] = count
    return counts


def unfinished_jobs(*, session: Session, sweep_id: str) -> list[Job]:
    query = select(Job).where(Job.sweep_id == sweep_id, Job.status.in_(ACTIVE))
    return list(session.scalars(query))


@dataclass(frozen=True)
class TrialRow:
    """A trial as the comparison reads it: its cell and seed, and its job's outcome once released."""

    position: int
    cell: int
    seed: int
    job_id: str | None
    status: JobStatus | None
    summary: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None
    epochs_run: int = 0  # epochs its job ran over all its folds: its summary's, or its progress before one
    epochs_full: int = 0  # its spec's epochs × folds: what it trains unless it stops early

    @property
    def stopped_early(self) -> bool:
        """Ended at a rung by its sweep's early stop (its summary's `stopped_early`)."""
        return bool((self.summary or {}).get("stopped_early"))


def trial_rows(*, session: Session, sweep_id: str) -> list[TrialRow]:
    query = (
        select(
            SweepTrial.position,
            SweepTrial.cell,
            SweepTrial.seed,
            SweepTrial.job_id,
            SweepTrial.spec,
            Job.status,
            Job.summary,
            Job.started_at,
            Job.finished_at,
            Job.epoch,
            Job.epochs,
            Job.fold,
            Job.folds,
        )
        .outerjoin(Job, Job.id == SweepTrial.job_id)
        .where(SweepTrial.sweep_id == sweep_id)
        .order_by(SweepTrial.position)
    )
    rows = []
    for row in session.execute(query):
        # a released trial's job row has its spec's epochs and folds; a waiting one only its spec
        epochs, folds = (row.epochs, row.folds) if row.job_id is not None else planned_epochs(row.spec)
        rows.append(
            TrialRow(
                position=row.position,
                cell=row.cell,
                seed=row.seed,
                job_id=row.job_id,
                status=JobStatus(row.status) if row.status else None,
                summary=row.summary,
                started_at=row.started_at,
                finished_at=row.finished_at,
                epochs_run=_epochs_run(row.summary, row.epoch, row.fold, epochs),
                epochs_full=epochs * folds,
            )
        )
    return rows


def planned_epochs(spec_json: dict[str, Any]) -> tuple[int, int]:
    """A spec's epochs per fold and its folds, as its job's row will count them (store/jobs.py new_job)."""
    spec = JobSpec.model_validate(spec_json)
    return spec.epochs, getattr(spec.dataset.validation, "kfold", 1)


def _epochs_run(summary: dict[str, Any] | None, epoch: int | None, fold: int | None, epochs: int) -> int:
    """The summary's epochs_run (over its folds, early stops counted as they stopped); before a summary
    (running, or ended without one) the progress: the folds done in full and the current fold's epoch."""
    counted = (summary or {}).get("epochs_run")
    if isinstance(counted, int) and not isinstance(counted, bool):
        return counted
    return (fold or 0) * epochs + (epoch or 0)


def store_result(*, session: Session, sweep_id: str, result: dict[str, Any]) -> None:
    """Keep an ended sweep's comparison: it no longer changes, so no request computes it again."""
    session.execute(
        update(Sweep).where(Sweep.id == sweep_id, Sweep.status != SweepStatus.running.value).values(result=result)
    )


def list_sweeps(
    *, session: Session, principal_id: int | None, limit: int, cursor: Cursor | None = None
) -> tuple[list[Sweep], Cursor | None]:
    """One page of sweeps, newest first, and the cursor of the next page (None on the last)."""
    # a listing shows no comparison: the kept result (hundreds of kB for a big sweep) stays unread
    query = (
        select(Sweep).options(defer(Sweep.result)).order_by(Sweep.created_at.desc(), Sweep.id.desc()).limit(limit + 1)
    )
    if principal_id is not None:
        query = query.where(Sweep.principal_id == principal_id)
    if cursor is not None:
        query = query.where(
            or_(
                Sweep.created_at < cursor.created_at,
                and_(Sweep.created_at == cursor.created_at, Sweep.id < cursor.id),
            )
        )
    sweeps = list(session.scalars(query))
    if len(sweeps) <= limit:
        return sweeps, None
    last = sweeps[limit - 1]
    return sweeps[:limit], Cursor(last.created_at, last.id)
