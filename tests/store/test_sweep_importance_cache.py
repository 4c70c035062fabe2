"""A sweep's importances as one API process keeps them, on SQLite and PostgreSQL: while the sweep runs, a read
with the same finished configurations is the kept answer and one more finished configuration is computed
afresh; the process keeps at most KEPT_WHILE_RUNNING answers, the least recently read going first; once the
sweep has ended and its comparison is kept, the importance is kept beside it and read back from the row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.services import sweep_importance
from api.services.sweep_importance import read_importance
from api.services.sweeps import read_sweep
from store import sweeps as sweep_store
from store.diagnoses import save_diagnosis
from store.models import Job, Sweep, utcnow
from store.principals import Caller
from tests.store.sweep_rows import new_sweep
from trainwell.diagnosis import Diagnosis, DiagnosisStatus
from trainwell.job import JobStatus
from trainwell.spec import JobSpec
from trainwell.sweep import SweepImportance, SweepRequest, SweepStatus

BASE = {"dataset": {"name": "iris"}, "epochs": 2}
SPACE = {"optimizer.lr": {"loguniform": [1e-4, 1.0]}, "model.hidden": {"choice": [[8], [16, 16]]}}
# this seed's first draws take both widths (seed 7's first four share one): both parameters vary, so fANOVA
# weighs them instead of answering a reason
SEED = 1


@pytest.fixture(autouse=True)
def _no_kept_answers() -> Iterator[None]:
    # the kept answers are the process's: a test starts and leaves it with none
    sweep_importance._recent.clear()
    yield
    sweep_importance._recent.clear()


def _search(session: Session, *, trials: int) -> tuple[str, Caller, list[str]]:
    """A running random search of `trials` configurations, one seed each, all released as queued jobs.
    Returns the sweep's id, its owner as a caller, and the jobs' ids in configuration order."""
    request = SweepRequest.model_validate(
        {
            "base": BASE,
            "search": {"space": SPACE, "sampler": "random", "trials": trials, "seed": SEED},
            "seeds": [0],
            "max_parallel": trials,
        }
    )
    assert request.search is not None
    sweep_id, owner = new_sweep(
        session,
        request=request.model_dump(mode="json", exclude_unset=True, by_alias=True),
        base=JobSpec.model_validate(BASE).model_dump(mode="json"),
        search=request.search.model_dump(mode="json", by_alias=True),
        seeds=[0],
        trials=trials,
        max_parallel=trials,
    )
    released = sweep_store.advance(session=session, sweep_id=sweep_id, max_active_jobs=100, now=utcnow())
    session.commit()
    assert len(released) == trials
    return sweep_id, Caller(owner, "sweeper", False), [trial.job_id for trial in released]


def _succeed(session: Session, job_id: str, val_loss: float) -> None:
    summary: dict[str, Any] = {"best_metrics": {"val_loss": val_loss}}
    session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.succeeded.value, summary=summary))
    save_diagnosis(session=session, job_id=job_id, diagnosis=Diagnosis(status=DiagnosisStatus.not_applicable))
    session.commit()


def _read(session: Session, caller: Caller, sweep_id: str) -> SweepImportance:
    """One request's read: a session of its own, as the API opens one per request."""
    session.commit()  # the test's session holds no transaction that the request would wait on
    with Session(session.get_bind(), expire_on_commit=False) as request:
        return read_importance(session=request, caller=caller, sweep_id=sweep_id)


def _kept_for(sweep_id: str) -> list[tuple[str, str]]:
    return [key for key in sweep_importance._recent if key[0] == sweep_id]


def test_a_running_sweep_is_answered_from_the_kept_answer_until_another_configuration_finishes(
    session: Session,
) -> None:
    sweep_id, caller, jobs = _search(session, trials=6)
    for n, job_id in enumerate(jobs[:4]):
        _succeed(session, job_id, val_loss=0.1 + 0.2 * n)

    first = _read(session, caller, sweep_id)
    assert first.configurations == 4 and first.reason is None and first.parameters, first
    again = _read(session, caller, sweep_id)
    assert again is first, "the same finished configurations: the kept answer, not a second forest"
    assert len(_kept_for(sweep_id)) == 1

    _succeed(session, jobs[4], val_loss=0.05)
    grown = _read(session, caller, sweep_id)
    assert grown is not first and grown.configurations == 5, "a fifth configuration finished: computed afresh"
    assert grown != first
    assert len(_kept_for(sweep_id)) == 2
    assert _read(session, caller, sweep_id) is grown, "and kept in turn"


def test_at_most_kept_while_running_answers_are_kept_the_least_recently_read_going_first(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep_importance, "KEPT_WHILE_RUNNING", 2)
    # nothing finished yet: each answer is a reason, cheap to compute, and each sweep is a key of its own
    (a, caller_a, _), (b, caller_b, _), (c, caller_c, _) = (_search(session, trials=1) for _ in range(3))
    first_a = _read(session, caller_a, a)
    first_b = _read(session, caller_b, b)
    assert _read(session, caller_a, a) is first_a, "a read again: b is now the least recently read"
    _read(session, caller_c, c)

    assert [key[0] for key in sweep_importance._recent] == [a, c], "b went first; a, read since, stayed"
    assert _read(session, caller_a, a) is first_a
    assert _read(session, caller_b, b) is not first_b, "b was no longer kept: computed afresh"
    assert len(sweep_importance._recent) == 2


def test_an_ended_sweeps_importance_is_kept_beside_its_comparison(session: Session) -> None:
    sweep_id, caller, jobs = _search(session, trials=4)
    for n, job_id in enumerate(jobs):
        _succeed(session, job_id, val_loss=1.0 - 0.2 * n)
    assert sweep_store.advance(session=session, sweep_id=sweep_id, max_active_jobs=100, now=utcnow()) == []
    session.commit()
    assert session.scalar(select(Sweep.status).where(Sweep.id == sweep_id)) == SweepStatus.succeeded.value

    # ended, but its comparison not kept yet: nothing is kept beside it
    _read(session, caller, sweep_id)
    assert session.scalar(select(Sweep.result).where(Sweep.id == sweep_id)) is None

    with Session(session.get_bind(), expire_on_commit=False) as request:
        read_sweep(session=request, caller=caller, sweep_id=sweep_id)  # keeps the comparison
    answer = _read(session, caller, sweep_id)
    assert answer.configurations == 4 and answer.reason is None
    result = session.scalar(select(Sweep.result).where(Sweep.id == sweep_id))
    assert result is not None and "table" in result, "the comparison stays beside it"
    assert result["importance"] == answer.model_dump(mode="json")

    sweep_importance._recent.clear()  # another process, or this one once the answer was evicted
    kept = _read(session, caller, sweep_id)
    assert kept == answer
    assert not sweep_importance._recent, "read from the row: nothing computed, nothing kept in the process"
