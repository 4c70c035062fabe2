"""Store queries on a migrated database: SQLite and PostgreSQL (a fresh database per run)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from store import jobs as job_store
from store.db import autocommit_connection, make_async_engine, make_engine
from store.metrics import MetricRow, latest_values, read_series, record_metrics
from store.migrate import upgrade_database
from store.models import Job, LatestMetric, Metric
from store.principals import authenticate, create_key, get_or_create_principal, revoke_key
from store.probes import create_probe_jobs, refreshed_probes, settleable_jobs
from store.quotas import Limits, Usage, insert_within_limits, usage
from tests.stack import postgres_database
from trainwell.diagnosis import Diagnosis, DiagnosisStatus, Probe, ProbeKind, Verdict
from trainwell.job import JobStatus
from trainwell.spec import JobSpec


def _job(session: Session) -> str:
    owner = get_or_create_principal(session=session, name="owner")
    spec = JobSpec.model_validate({"dataset": {"name": "iris", "validation": {"kfold": 3}}, "epochs": 4})
    job = job_store.create_job(session=session, principal_id=owner.id, spec=spec, queue="train")
    session.commit()
    assert job.folds == 3 and job.epochs == 4
    return job.id


def test_migrations_make_the_schema(session: Session) -> None:
    tables = set(inspect(session.get_bind()).get_table_names())
    assert {"principals", "api_keys", "jobs", "metrics", "latest_metrics", "alembic_version"} <= tables


def test_a_job_is_claimed_once(session: Session) -> None:
    job_id = _job(session)
    assert job_store.claim_job(session=session, job_id=job_id, worker="w1")
    assert not job_store.claim_job(session=session, job_id=job_id, worker="w2"), "a second delivery must not claim"
    session.commit()
    job = job_store.get_job(session=session, job_id=job_id, principal_id=None)
    assert job is not None and job.status == JobStatus.running and job.attempt == 1 and job.worker == "w1"


def test_resent_epochs_update_instead_of_duplicating(session: Session) -> None:
    job_id = _job(session)
    epoch = [MetricRow("train_loss", 0, 1, 10, 0.9), MetricRow("val_loss", 0, 1, 10, 1.1)]
    record_metrics(session=session, job_id=job_id, rows=epoch)
    record_metrics(session=session, job_id=job_id, rows=[MetricRow("train_loss", 0, 1, 10, 0.8)])
    record_metrics(session=session, job_id=job_id, rows=[MetricRow("train_loss", 1, 1, 10, 0.7)])
    session.commit()
    assert session.scalar(select(func.count()).select_from(Metric)) == 3
    series = {
        (s.name, s.fold): [p.value for p in s.points]
        for s in read_series(session=session, job_id=job_id, names=None, fold=None, max_points=None)
    }
    assert series == {("train_loss", 0): [0.8], ("train_loss", 1): [0.7], ("val_loss", 0): [1.1]}
    assert latest_values(session=session, job_ids=[job_id]) == {job_id: {"train_loss": 0.7, "val_loss": 1.1}}
    assert session.scalar(select(func.count()).select_from(LatestMetric)) == 2
    with pytest.raises(ValueError, match="unknown metric names"):
        record_metrics(session=session, job_id=job_id, rows=[MetricRow("loss", 0, 1, 1, 1.0)])


def test_keys_are_stored_hashed_and_can_be_revoked(session: Session) -> None:
    owner = get_or_create_principal(session=session, name="carol")
    key = create_key(session=session, principal=owner, name="laptop")
    session.commit()
    assert key.startswith("tw_")
    caller = authenticate(session=session, key=key, admin_key=None)
    assert caller is not None and caller.name == "carol" and caller.scope == owner.id
    assert authenticate(session=session, key=key + "x", admin_key=None) is None
    assert revoke_key(session=session, prefix=key.split("_")[1])
    session.commit()
    assert authenticate(session=session, key=key, admin_key=None) is None
    admin = authenticate(session=session, key="operator-secret", admin_key="operator-secret")
    assert admin is not None and admin.is_admin and admin.scope is None


def test_the_migrations_match_the_models(session: Session) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from store.models import Base

    with session.get_bind().connect() as connection:  # type: ignore[union-attr]
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"store/models.py and migrations/ disagree; add a migration: {diff}"


def test_a_probing_diagnosis_is_settleable_once_every_probe_job_has_ended(session: Session) -> None:
    parent = job_store.get_job(session=session, job_id=_job(session), principal_id=None)
    assert parent is not None
    diagnosis = Diagnosis(
        status=DiagnosisStatus.running_probes,
        verdict=Verdict.model_bias,
        probes=[Probe(kind=ProbeKind.easier), Probe(kind=ProbeKind.bigger)],
    )
    spec = JobSpec.model_validate(parent.spec)
    created = create_probe_jobs(session=session, parent=parent, diagnosis=diagnosis, specs=[spec, spec])
    session.commit()
    assert [p.job_id for p in diagnosis.probes] == [job_id for job_id, _ in created]
    children = job_store.list_jobs(session=session, principal_id=None, limit=10, parent_id=parent.id)[0]
    assert {c.origin for c in children} == {"probe"} and len(children) == 2
    assert settleable_jobs(session=session) == []  # both probes still queued

    first, second = children
    job_store.request_cancel(session=session, job=first)
    session.commit()
    assert settleable_jobs(session=session) == []
    job_store.request_cancel(session=session, job=second)
    session.commit()
    assert settleable_jobs(session=session) == [parent.id]
    probes = refreshed_probes(session=session, probes=diagnosis.probes)
    assert [p.status for p in probes] == ["cancelled", "cancelled"] and all(p.finished for p in probes)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
        upgrade_database(url)
        yield url
    else:
        with postgres_database() as url:
            upgrade_database(url)
            yield url


def test_a_submission_is_stored_only_under_its_principals_limits(database_url: str) -> None:
    engine = make_engine(database_url)
    with sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
        mine = get_or_create_principal(session=session, name="mine").id
        other = get_or_create_principal(session=session, name="other").id
    spec = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 1})
    now = datetime.now(UTC)

    def limits(principal_id: int, *, max_active: int = 100, max_recent: int = 100) -> Limits:
        return Limits(
            principal_id=principal_id, since=now - timedelta(minutes=1), max_active=max_active, max_recent=max_recent
        )

    async def submit(principal_id: int, limit: Limits) -> bool:
        row = job_store.new_job(principal_id=principal_id, spec=spec, queue="train")
        async_engine = make_async_engine(database_url)
        try:
            async with autocommit_connection(async_engine) as connection:
                return await insert_within_limits(connection=connection, job=row, limits=limit)
        finally:
            await async_engine.dispose()

    assert all(asyncio.run(submit(mine, limits(mine, max_active=3))) for _ in range(3))
    assert not asyncio.run(submit(mine, limits(mine, max_active=3))), "at the active limit: refused"
    assert asyncio.run(submit(other, limits(other, max_active=3))), "another principal's jobs do not count"
    assert not asyncio.run(submit(mine, limits(mine, max_recent=3))), "at the rate limit: refused"
    with sessionmaker(engine)() as session:
        assert usage(session=session, limits=limits(mine)) == Usage(active=3, recent=3)
        assert usage(session=session, limits=limits(mine, max_active=2, max_recent=1)) == Usage(active=2, recent=1)
        ids = session.scalars(select(Job.id).where(Job.principal_id == mine)).all()
        job_store.request_cancel(session=session, job=session.get_one(Job, ids[0]))
        session.commit()
    assert asyncio.run(submit(mine, limits(mine, max_active=3))), "a cancelled job frees its slot"
    engine.dispose()
