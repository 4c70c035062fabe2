"""A sweep's releases in SQL, on SQLite and PostgreSQL: max_parallel and the principal's active-jobs quota
hold, each trial becomes one job in position order, a cancelled sweep releases nothing, and a sweep ends
only once every trial has ended with its final diagnosis."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from store import sweeps as sweep_store
from store.diagnoses import save_diagnosis
from store.models import Job, utcnow
from tests.store.sweep_rows import new_sweep
from trainwell.diagnosis import Diagnosis, DiagnosisStatus
from trainwell.job import JobStatus
from trainwell.spec import JobSpec
from trainwell.sweep import SweepStatus

SPEC = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 2}).model_dump(mode="json")


def _sweep(session: Session, *, trials: int, max_parallel: int) -> tuple[str, int]:
    rows = [{"position": n, "cell": 0, "seed": n, "spec": {**SPEC, "seed": n}} for n in range(trials)]
    return new_sweep(
        session,
        base=SPEC,
        grid={"seed": [0]},
        seeds=list(range(trials)),
        trials=trials,
        max_parallel=max_parallel,
        trial_rows=rows,
    )


def _advance(session: Session, sweep_id: str, max_active: int = 100) -> list[sweep_store.Released]:
    released = sweep_store.advance(session=session, sweep_id=sweep_id, max_active_jobs=max_active, now=utcnow())
    session.commit()
    return released


def _end(session: Session, job_id: str, *, diagnosed: bool = True) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.succeeded.value))
    if diagnosed:
        save_diagnosis(session=session, job_id=job_id, diagnosis=Diagnosis(status=DiagnosisStatus.not_applicable))
    session.commit()


def test_trials_are_released_max_parallel_at_a_time_in_order(session: Session) -> None:
    sweep_id, _ = _sweep(session, trials=5, max_parallel=2)
    first = _advance(session, sweep_id)
    assert len(first) == 2 and _advance(session, sweep_id) == []
    rows = sweep_store.trial_rows(session=session, sweep_id=sweep_id)
    assert [row.job_id for row in rows[:2]] == [r.job_id for r in first] and rows[2].job_id is None
    _end(session, first[0].job_id)
    third = _advance(session, sweep_id)
    assert len(third) == 1 and sweep_store.trial_rows(session=session, sweep_id=sweep_id)[2].job_id == third[0].job_id
    counts = sweep_store.status_counts(session=session, sweep_ids=[sweep_id])[sweep_id]
    assert counts == {"succeeded": 1, "queued": 2, "waiting": 2}


def test_the_principals_active_jobs_quota_holds_trials_back(session: Session) -> None:
    sweep_id, _ = _sweep(session, trials=4, max_parallel=4)
    assert len(_advance(session, sweep_id, max_active=1)) == 1
    assert _advance(session, sweep_id, max_active=1) == []


def test_a_cancelled_sweep_releases_nothing(session: Session) -> None:
    sweep_id, _ = _sweep(session, trials=3, max_parallel=1)
    _advance(session, sweep_id)
    assert sweep_store.cancel_sweep(session=session, sweep_id=sweep_id, now=utcnow())
    session.commit()
    assert _advance(session, sweep_id) == []
    assert not sweep_store.cancel_sweep(session=session, sweep_id=sweep_id, now=utcnow())


def test_a_sweep_ends_once_every_trial_ended_with_its_final_diagnosis(session: Session) -> None:
    sweep_id, _ = _sweep(session, trials=2, max_parallel=2)
    first, second = _advance(session, sweep_id)
    _end(session, first.job_id)
    _end(session, second.job_id, diagnosed=False)
    assert _advance(session, sweep_id) == []
    assert sweep_store.running_sweeps(session=session, limit=10) == [sweep_id], "the last diagnosis is pending"
    save_diagnosis(session=session, job_id=second.job_id, diagnosis=Diagnosis(status=DiagnosisStatus.ready))
    session.commit()
    _advance(session, sweep_id)
    ended = sweep_store.get_sweep(session=session, sweep_id=sweep_id, principal_id=None)
    assert ended is not None and ended.status == SweepStatus.succeeded.value and ended.finished_at is not None
