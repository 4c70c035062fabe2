"""A sweep's ASHA rungs in SQL, on SQLite and PostgreSQL: a trial reaching a rung is judged against the values
recorded there before it, a trial reaching it again reads its first decision back without competing twice,
the rungs of a trial follow its sweep's early stop, and on PostgreSQL two trials reaching a rung at once are
judged one after the other."""

from __future__ import annotations

import threading

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from store.jobs import new_job
from store.models import Job
from store.sweep_rungs import TrialRungs, reach_rung, rung_records, trial_rungs
from tests.stack import migrated_session, postgres_database
from tests.store.sweep_rows import new_sweep
from trainwell.spec import JobSpec
from trainwell.sweep import Asha, SweepRequest

SPEC = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 9})
REQUEST = SweepRequest.model_validate(
    {"base": {"dataset": {"name": "iris"}, "epochs": 9}, "grid": {"optimizer.lr": [0.1]}, "early_stop": {"asha": {}}}
)


def _sweep_with_jobs(session: Session, jobs: int, request: SweepRequest = REQUEST) -> tuple[str, list[str]]:
    sweep_id, owner = new_sweep(
        session,
        request=request.model_dump(mode="json", exclude_unset=True),
        base=SPEC.model_dump(mode="json"),
        seeds=[0],
        trials=jobs,
    )
    ids = []
    for _ in range(jobs):
        row = new_job(principal_id=owner, spec=SPEC, queue="train", sweep_id=sweep_id)
        session.execute(insert(Job).values(**row))
        ids.append(row["id"])
    session.commit()
    return sweep_id, ids


def test_each_trial_is_judged_against_the_values_before_it_and_once(session: Session) -> None:
    sweep_id, jobs = _sweep_with_jobs(session, 4)
    rungs = TrialRungs(sweep_id, Asha(reduction_factor=3), (1, 3))
    values = [0.5, 0.7, 0.4, 0.6]
    decisions = []
    for job_id, value in zip(jobs, values, strict=True):
        decisions.append(reach_rung(session=session, rungs=rungs, job_id=job_id, rung=0, epoch=1, value=value))
        session.commit()
    assert [d.promoted for d in decisions] == [True, False, True, False]
    assert [d.competitors for d in decisions] == [1, 2, 3, 4]

    # the second trial, resumed from a checkpoint before the rung, reaches it again with another value
    again = reach_rung(session=session, rungs=rungs, job_id=jobs[1], rung=0, epoch=1, value=0.1)
    session.commit()
    assert again == decisions[1], "its first decision stands"
    records = rung_records(session=session, sweep_id=sweep_id)
    assert [(r.job_id, r.value, r.promoted) for r in records] == list(
        zip(jobs, values, [True, False, True, False], strict=True)
    ), "recorded once each, in the order reached"


def test_a_trials_rungs_follow_its_sweeps_early_stop(session: Session) -> None:
    sweep_id, jobs = _sweep_with_jobs(session, 1)
    rungs = trial_rungs(session=session, job_id=jobs[0])
    assert rungs is not None and rungs.sweep_id == sweep_id and rungs.epochs == (1, 3)
    assert rungs.rung_of(3) == 1 and rungs.rung_of(2) is None
    plain = REQUEST.model_copy(update={"early_stop": None})
    _, others = _sweep_with_jobs(session, 1, plain)
    assert trial_rungs(session=session, job_id=others[0]) is None


def test_two_trials_reaching_a_rung_at_once_are_judged_one_after_the_other() -> None:
    """PostgreSQL: the first holds the sweep's lock, uncommitted; the second waits for it and, once the first
    commits, is judged with the first's value (alone, both would go on)."""
    with postgres_database() as url:
        sessions = migrated_session(url)
        session = next(sessions)
        try:
            sweep_id, jobs = _sweep_with_jobs(session, 3)
            rungs = TrialRungs(sweep_id, Asha(reduction_factor=2), (1,))
            first = reach_rung(session=session, rungs=rungs, job_id=jobs[0], rung=0, epoch=1, value=0.2)
            assert first.promoted
            results = {}
            factory = sessionmaker(session.get_bind())

            def second() -> None:
                with factory() as mine:
                    found = reach_rung(session=mine, rungs=rungs, job_id=jobs[1], rung=0, epoch=1, value=0.3)
                    mine.commit()
                results["second"] = found

            thread = threading.Thread(target=second)
            thread.start()
            thread.join(timeout=1.0)
            assert thread.is_alive(), "the second waits for the first's lock"
            session.commit()
            thread.join(timeout=30)
            assert results["second"].competitors == 2 and not results["second"].promoted
        finally:
            sessions.close()
