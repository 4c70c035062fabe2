"""A sweep's ASHA rungs in SQL: what a trial's reporter needs to know of them, and a trial reaching one.

A trial reaches a rung in the transaction that writes the rung epoch's metrics (worker/reporter.py), so
its record and the epoch's rows commit together. The decision is made once, with the sweep's row locked
(PostgreSQL's row lock; SQLite's write lock serializes writers anyway), so trials reaching a rung together
are judged one after the other, each against the values before it. The decision is stored with the value:
a trial that reaches the rung again (resumed from a checkpoint older than the rung) reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.asha import RungDecision, decide
from store.models import Job, Sweep, SweepRung
from trainwell.spec import JobSpec
from trainwell.sweep import Asha, SweepRequest


@dataclass(frozen=True)
class TrialRungs:
    """A sweep trial's rungs: the epochs it is judged at (core/asha.py), and by what rule."""

    sweep_id: str
    asha: Asha
    epochs: tuple[int, ...]

    def rung_of(self, epoch: int) -> int | None:
        return self.epochs.index(epoch) if epoch in self.epochs else None


def trial_rungs(*, session: Session, job_id: str) -> TrialRungs | None:
    """The rungs of the job's sweep for it; None for a job outside a sweep with an early stop. A k-fold
    trial has none (a sweep with an early stop refuses k-fold at creation: each fold restarts its epochs)."""
    found = session.execute(
        select(Job.sweep_id, Job.spec, Sweep.request).join(Sweep, Sweep.id == Job.sweep_id).where(Job.id == job_id)
    ).first()
    if found is None:
        return None
    sweep_id, spec_json, request_json = found
    early_stop = SweepRequest.model_validate(request_json).early_stop
    spec = JobSpec.model_validate(spec_json)
    if early_stop is None or getattr(spec.dataset.validation, "kfold", 1) != 1:
        return None
    asha = early_stop.asha
    return TrialRungs(sweep_id, asha, tuple(asha.rungs(spec.epochs)))


def reach_rung(
    *, session: Session, rungs: TrialRungs, job_id: str, rung: int, epoch: int, value: float
) -> RungDecision:
    """Record the trial at `rung` with its `value` and decide whether it goes on; the stored decision when it
    reached the rung before. Call it first in its transaction: it locks the sweep's row until the commit, so
    that its order of locks (the sweep's, then the job's row) is a release's and a cancel's. Then one
    indexed read: every value at the rung (the primary key's prefix). The read is a statement of its own:
    in PostgreSQL's READ COMMITTED a statement that waited for the lock would still read from the snapshot
    it started with, blind to the values committed by the trial it waited for."""
    session.execute(select(Sweep.id).where(Sweep.id == rungs.sweep_id).with_for_update())
    found = session.execute(
        select(SweepRung.job_id, SweepRung.value).where(SweepRung.sweep_id == rungs.sweep_id, SweepRung.rung == rung)
    ).all()
    others = []
    for other, value_there in found:
        if other == job_id:  # reached before, by an attempt that died after the commit: its decision stands
            stored = session.execute(
                select(SweepRung.promoted, SweepRung.cutoff, SweepRung.competitors).where(
                    SweepRung.sweep_id == rungs.sweep_id, SweepRung.rung == rung, SweepRung.job_id == job_id
                )
            ).one()
            return RungDecision(stored.promoted, stored.cutoff, stored.competitors)
        others.append(value_there)
    asha = rungs.asha
    decision = decide(value, others, reduction_factor=asha.reduction_factor, maximize=asha.maximize)
    session.execute(
        insert(SweepRung).values(
            sweep_id=rungs.sweep_id,
            rung=rung,
            job_id=job_id,
            epoch=epoch,
            value=value,
            promoted=decision.promoted,
            cutoff=decision.cutoff,
            competitors=decision.competitors,
        )
    )
    return decision


def rung_records(*, session: Session, sweep_id: str) -> list[SweepRung]:
    """Every trial's record at every rung, in the order they were reached."""
    query = select(SweepRung).where(SweepRung.sweep_id == sweep_id).order_by(SweepRung.created_at, SweepRung.rung)
    return list(session.scalars(query))
