"""A search sweep's configurations in SQL, on SQLite and PostgreSQL: sampled into waiting trials only as the
sweep has room, once per seed, each stored with its values; the sampler rebuilt from the rows each time
(a fresh session, as a new process would have, continues the sequence); told each configuration's mean
objective over its seeds; ended only once every configuration exists; and two releases at once on
PostgreSQL never make configuration N twice."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings
from core.sweep_sampler import Configuration, ask
from store import sweep_search
from store import sweeps as sweep_store
from store.diagnoses import save_diagnosis
from store.models import Job, Sweep, utcnow
from tests.store.sweep_rows import new_sweep
from trainwell.diagnosis import Diagnosis, DiagnosisStatus
from trainwell.job import JobStatus
from trainwell.spec import JobSpec
from trainwell.sweep import Search, SweepRequest, SweepStatus

BASE = {"dataset": {"name": "iris"}, "epochs": 2}
SPACE = {"optimizer.lr": {"loguniform": [1e-4, 1.0]}, "model.hidden": {"choice": [[8], [16, 16]]}}


def _sweep(
    session: Session,
    *,
    trials: int,
    seeds: list[int],
    max_parallel: int,
    sampler: str = "random",
    space: dict[str, Any] = SPACE,
) -> str:
    request = SweepRequest.model_validate(
        {
            "base": BASE,
            "search": {"space": space, "sampler": sampler, "trials": trials, "seed": 7},
            "seeds": seeds,
            "max_parallel": max_parallel,
        }
    )
    assert request.search is not None
    sweep_id, _ = new_sweep(
        session,
        request=request.model_dump(mode="json", exclude_unset=True, by_alias=True),
        base=JobSpec.model_validate(BASE).model_dump(mode="json"),
        search=request.search.model_dump(mode="json", by_alias=True),
        seeds=seeds,
        trials=trials * len(seeds),
        max_parallel=max_parallel,
    )
    return sweep_id


def _advance(session: Session, sweep_id: str, max_active: int = 100) -> list[sweep_store.Released]:
    released = sweep_store.advance(session=session, sweep_id=sweep_id, max_active_jobs=max_active, now=utcnow())
    session.commit()
    return released


def _status(session: Session, sweep_id: str) -> str | None:
    return session.scalar(select(Sweep.status).where(Sweep.id == sweep_id))


def _end(session: Session, job_id: str, val_loss: float | None = None) -> None:
    summary: dict[str, Any] | None = None if val_loss is None else {"best_metrics": {"val_loss": val_loss}}
    session.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.succeeded.value, summary=summary))
    save_diagnosis(session=session, job_id=job_id, diagnosis=Diagnosis(status=DiagnosisStatus.not_applicable))
    session.commit()


def test_configurations_are_sampled_as_there_is_room_once_per_seed_until_all_exist(session: Session) -> None:
    sweep_id = _sweep(session, trials=4, seeds=[0, 1], max_parallel=2)
    first = _advance(session, sweep_id)
    assert len(first) == 2, "one configuration × two seeds fills max_parallel 2"
    rows = sweep_store.trial_rows(session=session, sweep_id=sweep_id)
    assert [(row.cell, row.seed) for row in rows] == [(0, 0), (0, 1)], "nothing sampled ahead of the room"
    counts = sweep_store.status_counts(session=session, sweep_ids=[sweep_id])[sweep_id]
    assert counts == {"queued": 2}
    ended = 0
    while _status(session, sweep_id) == SweepStatus.running.value:
        for row in sweep_store.trial_rows(session=session, sweep_id=sweep_id):
            if row.job_id is not None and row.status is JobStatus.queued:
                _end(session, row.job_id, val_loss=1.0 + ended)
                ended += 1
        _advance(session, sweep_id)
        assert ended <= 8, "more trials than 4 configurations × 2 seeds"
    rows = sweep_store.trial_rows(session=session, sweep_id=sweep_id)
    assert ended == len(rows) == 8
    assert Counter(row.cell for row in rows) == {0: 2, 1: 2, 2: 2, 3: 2}
    sampled = sweep_search.sampled(session=session, sweep_id=sweep_id)
    assert [config.index for config in sampled] == [0, 1, 2, 3]
    lrs = [config.params["optimizer.lr"] for config in sampled]
    assert len(set(lrs)) == 4 and all(1e-4 <= lr <= 1.0 for lr in lrs), lrs
    assert all(config.params["model.hidden"] in ([8], [16, 16]) for config in sampled)
    for spec in session.scalars(select(Job.spec).where(Job.sweep_id == sweep_id)):
        assert spec["optimizer"]["lr"] in lrs, "each trial's spec carries its configuration's values"


def test_a_fresh_session_continues_the_sequence_a_rebuilt_sampler_draws(session: Session) -> None:
    sweep_id = _sweep(session, trials=3, seeds=[0], max_parallel=1)
    (first,) = _advance(session, sweep_id)
    _end(session, first.job_id, val_loss=0.5)
    # another process: a session of its own, no state but the database's
    other = sessionmaker(session.get_bind(), expire_on_commit=False)()
    try:
        (second,) = _advance(other, sweep_id)
    finally:
        other.close()
    stored = sweep_search.configurations(session=session, sweep_id=sweep_id)
    search = Search.model_validate(session.scalar(select(Sweep.search).where(Sweep.id == sweep_id)))
    assert stored[0] == Configuration(stored[0].params, True, 0.5)
    assert stored[0].params == ask(search, []), "configuration 0 as a sampler rebuilt from nothing draws it"
    assert stored[1].params == ask(search, stored[:1]), "configuration 1 as one rebuilt from configuration 0"
    assert not stored[1].finished and second.job_id != first.job_id


def test_the_sampler_is_told_each_configurations_mean_over_its_seeds(session: Session) -> None:
    sweep_id = _sweep(session, trials=2, seeds=[0, 1, 2], max_parallel=3)
    released = _advance(session, sweep_id)
    for trial, loss in zip(released[:2], (0.2, 0.4), strict=True):
        _end(session, trial.job_id, val_loss=loss)
    (running,) = sweep_search.configurations(session=session, sweep_id=sweep_id)
    assert not running.finished and running.objective is None, "a seed still queued: running"
    session.execute(update(Job).where(Job.id == released[2].job_id).values(status=JobStatus.failed.value))
    session.commit()
    (done,) = sweep_search.configurations(session=session, sweep_id=sweep_id)
    assert done.finished and done.objective == pytest.approx(0.3), "the succeeded seeds' mean"


def test_a_search_does_not_end_while_configurations_are_left_to_sample(session: Session) -> None:
    sweep_id = _sweep(session, trials=3, seeds=[0], max_parallel=1)
    (first,) = _advance(session, sweep_id)
    _end(session, first.job_id, val_loss=0.5)
    # the principal's quota is full elsewhere: nothing is released, nothing waits, nothing is active
    assert _advance(session, sweep_id, max_active=0) == []
    assert _status(session, sweep_id) == SweepStatus.running.value


def test_tpe_is_told_the_finished_configurations_and_samples_within_the_space(session: Session) -> None:
    sweep_id = _sweep(session, trials=14, seeds=[0], max_parallel=1, sampler="tpe")
    for n in range(14):  # past TPE's ten random start-up trials
        (trial,) = _advance(session, sweep_id)
        lr = sweep_search.sampled(session=session, sweep_id=sweep_id)[n].params["optimizer.lr"]
        _end(session, trial.job_id, val_loss=abs(lr - 0.01))
    assert _advance(session, sweep_id) == []
    assert _status(session, sweep_id) == SweepStatus.succeeded.value
    lrs = [config.params["optimizer.lr"] for config in sweep_search.sampled(session=session, sweep_id=sweep_id)]
    assert len(lrs) == 14 and len(set(lrs)) == 14 and all(1e-4 <= lr <= 1.0 for lr in lrs)


def test_two_releases_at_once_make_each_configuration_once(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite takes one writer at a time: its releases never overlap")
    sweep_id = _sweep(session, trials=6, seeds=[0, 1], max_parallel=4)
    factory = sessionmaker(session.get_bind(), expire_on_commit=False)
    start, released, errors = threading.Barrier(2), [], []

    def release() -> None:
        with factory() as mine:
            start.wait()
            try:
                released.extend(_advance(mine, sweep_id))
            except Exception as exc:  # a duplicate configuration would be an IntegrityError here
                errors.append(exc)

    threads = [threading.Thread(target=release) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = sweep_store.trial_rows(session=session, sweep_id=sweep_id)
    assert len(released) == 4 and len({trial.job_id for trial in released}) == 4
    assert Counter(row.cell for row in rows) == {0: 2, 1: 2}, "two configurations × two seeds, each once"


def test_a_search_whose_draws_the_spec_refuses_ends_with_the_configurations_it_has(session: Session) -> None:
    sweep_id = _sweep(session, trials=3, seeds=[0], max_parallel=2)
    # stored past the service's checks (a float range on an integer field, which they refuse): no draw is valid
    request = session.scalar(select(Sweep.request).where(Sweep.id == sweep_id))
    assert request is not None
    space = {"batch_size": {"uniform": [8.2, 8.8]}}
    refused = {**request, "search": {**request["search"], "space": space}}
    session.execute(update(Sweep).where(Sweep.id == sweep_id).values(request=refused))
    session.commit()
    assert _advance(session, sweep_id) == []
    assert session.scalar(select(Sweep.trials).where(Sweep.id == sweep_id)) == 0
    assert _status(session, sweep_id) == SweepStatus.succeeded.value, "nothing left to run: it ends"


def test_a_drawn_configuration_past_the_deployments_limits_is_drawn_again(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The creation checks each choice alone and the ranges' corners; a combination inside is checked as it
    is drawn. Here a width the limit refuses (64·64 weights on a 1,000-parameter deployment) is drawn again."""
    space = {"optimizer.lr": {"loguniform": [1e-4, 1.0]}, "model.hidden": {"choice": [[8], [64, 64], [16]]}}

    def drawn_widths(limit: str | None) -> list[Any]:
        if limit is not None:
            monkeypatch.setenv("TRAINWELL_MAX_MODEL_PARAMETERS", limit)
        else:
            monkeypatch.delenv("TRAINWELL_MAX_MODEL_PARAMETERS", raising=False)
        get_settings.cache_clear()
        sweep_id = _sweep(session, trials=12, seeds=[0], max_parallel=12, space=space)
        _advance(session, sweep_id)
        return [drawn.params["model.hidden"] for drawn in sweep_search.sampled(session=session, sweep_id=sweep_id)]

    try:
        unlimited = drawn_widths(None)
        assert [64, 64] in unlimited and len(unlimited) == 12
        limited = drawn_widths("1000")
        assert len(limited) == 12 and [64, 64] not in limited, limited
    finally:
        monkeypatch.delenv("TRAINWELL_MAX_MODEL_PARAMETERS", raising=False)
        get_settings.cache_clear()
