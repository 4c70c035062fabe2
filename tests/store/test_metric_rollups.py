"""Sampled reads from the rollups give exactly the M4 of the raw points on the same buckets
(core.downsample.sample_by_steps), on SQLite and PostgreSQL, over seeded random series with spikes,
written in random batches, re-sent with changed values, and read whole or zoomed."""

from __future__ import annotations

import math
import random
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.downsample import sample_by_steps
from store import jobs as job_store
from store.db import make_engine
from store.metric_rollups import rebuild_rollups
from store.metrics import MetricRow, read_series, record_metrics
from store.migrate import ALEMBIC_INI
from store.models import MetricRollup
from store.principals import get_or_create_principal
from trainwell.spec import JobSpec


def _job(session: Session) -> str:
    owner = get_or_create_principal(session=session, name="owner")
    spec = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 4})
    job = job_store.create_job(session=session, principal_id=owner.id, spec=spec, queue="train")
    session.commit()
    return job.id


def _random_series(rng: random.Random, n: int, *, nan: bool) -> list[MetricRow]:
    """n points of a decaying noisy curve with a few spikes and dips, steps with gaps and ties of value."""
    rows, step = [], rng.randrange(0, 50)
    per_epoch = rng.choice([1, 7, 100])
    spikes = set(rng.sample(range(n), k=min(n, 5)))
    for i in range(n):
        value = round(1.0 / (1 + i / 50) + rng.uniform(0, 0.05), rng.choice([2, 6]))
        if i in spikes:
            value = rng.choice([50.0, -3.0, 1e9, -math.inf, math.inf] + ([math.nan] if nan else []))
        rows.append(MetricRow("step_loss", 0, i // per_epoch, step, value))
        step += rng.choice([1, 1, 1, 2, 10]) if rng.random() < 0.98 else rng.randrange(100, 5000)
    return rows


def _reference(rows: list[MetricRow], max_points: int, low: int | None, high: int | None) -> list[tuple]:
    inside = [r for r in rows if (low is None or r.step >= low) and (high is None or r.step <= high)]
    kept = sample_by_steps(inside, [r.step for r in inside], [r.value for r in inside], max_points)
    return [(r.epoch, r.step, r.value) for r in kept]


def _read(session: Session, job_id: str, max_points: int, low: int | None, high: int | None) -> list[tuple]:
    series = read_series(
        session=session, job_id=job_id, names=["step_loss"], fold=0, max_points=max_points, from_step=low, to_step=high
    )
    return [(p.epoch, p.step, p.value) for s in series for p in s.points]


def _same(a: list[tuple], b: list[tuple]) -> bool:
    return len(a) == len(b) and all(
        x[:2] == y[:2] and (x[2] == y[2] or (x[2] != x[2] and y[2] != y[2])) for x, y in zip(a, b, strict=True)
    )


def _record_in_batches(session: Session, job_id: str, rows: list[MetricRow], rng: random.Random) -> None:
    start = 0
    while start < len(rows):
        size = rng.choice([1, 3, 50, 400, 2000])
        record_metrics(session=session, job_id=job_id, rows=rows[start : start + size])
        session.commit()
        start += size


def test_sampled_reads_are_the_m4_of_the_raw_points(session: Session) -> None:
    rng = random.Random(19)
    nan = session.get_bind().dialect.name == "postgresql"  # SQLite stores no NaN (it binds it as NULL)
    for case in range(12):
        job_id = _job(session)
        rows = _random_series(rng, rng.choice([3, 40, 900, 4000, 12000]), nan=nan)
        _record_in_batches(session, job_id, rows, rng)
        if case % 3 == 2:  # a resumed attempt re-sends a stretch, with values that changed
            first = rng.randrange(len(rows))
            resent = [MetricRow(r.name, r.fold, r.epoch, r.step, r.value * 2) for r in rows[first : first + 300]]
            rows[first : first + 300] = resent
            record_metrics(session=session, job_id=job_id, rows=resent)
            session.commit()
        for _ in range(8):
            max_points = rng.choice([4, 10, 100, 1000, 5000])
            low = rng.choice([None, rows[rng.randrange(len(rows))].step, -5])
            high = rng.choice([None, rows[rng.randrange(len(rows))].step, rows[-1].step + 7])
            got, want = _read(session, job_id, max_points, low, high), _reference(rows, max_points, low, high)
            assert _same(got, want), (case, len(rows), max_points, low, high)
        full = read_series(session=session, job_id=job_id, names=None, fold=None, max_points=None)
        assert [(p.epoch, p.step) for p in full[0].points] == [(r.epoch, r.step) for r in rows]


def test_a_live_run_is_sampled_on_the_grid_of_the_finished_run(session: Session) -> None:
    """The part of a finished run a live reader saw is sampled the same way when zoomed to it (clearml#1266)."""
    rng = random.Random(5)
    rows = _random_series(rng, 20_000, nan=False)
    job_id = _job(session)
    record_metrics(session=session, job_id=job_id, rows=rows[:8000])
    session.commit()
    live = _read(session, job_id, 500, None, None)
    record_metrics(session=session, job_id=job_id, rows=rows[8000:])
    session.commit()
    finished_zoomed = _read(session, job_id, 500, None, rows[7999].step)
    assert _same(live, finished_zoomed)
    assert 500 <= len(_read(session, job_id, 500, None, None)) <= 1000, "max_points to 2 x max_points points"


def test_rollups_written_live_are_the_rollups_rebuilt_from_the_points(session: Session) -> None:
    rng = random.Random(7)
    rows = _random_series(rng, 3000, nan=False)
    job_id = _job(session)
    _record_in_batches(session, job_id, rows, rng)

    def stored() -> list[tuple]:
        query = (
            select(MetricRollup).where(MetricRollup.job_id == job_id).order_by(MetricRollup.level, MetricRollup.bucket)
        )
        return [
            (r.level, r.bucket, r.count, r.first_step, r.last_step, r.min_step, r.max_step)
            for r in session.scalars(query)
        ]

    live = stored()
    rebuild_rollups(session=session, job_id=job_id, key=("step_loss", 0))
    session.commit()
    session.expire_all()
    assert stored() == live
    top = session.scalar(
        select(func.sum(MetricRollup.count)).where(MetricRollup.job_id == job_id, MetricRollup.level == 31)
    )
    assert top == len(rows)


def test_the_migration_backfills_rollups_of_stored_points(tmp_path: Path) -> None:
    """Points stored before the rollups existed are sampled from rollups the migration computed."""
    url = f"sqlite:///{tmp_path / 'before.sqlite'}"
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = url
    command.upgrade(config, "0013")
    rows = _random_series(random.Random(3), 5000, nan=False)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO principals (name, created_at) VALUES ('owner', '2026-01-01')"))
            connection.execute(
                text(
                    "INSERT INTO jobs (id, principal_id, status, spec, queue, origin, created_at, attempt, epoch, epochs,"
                    " fold, folds) VALUES ('j1', 1, 'succeeded', '{}', 'cpu', 'user', '2026-01-01', 1, 0, 1, 0, 1)"
                )
            )
            connection.execute(
                text("INSERT INTO metrics (job_id, name, fold, epoch, step, value) VALUES ('j1', :n, 0, :e, :s, :v)"),
                [{"n": r.name, "e": r.epoch, "s": r.step, "v": r.value} for r in rows],
            )
            # the latest value, which every version wrote beside the points
            connection.execute(
                text(
                    "INSERT INTO latest_metrics (job_id, name, fold, epoch, step, value)"
                    " VALUES ('j1', :n, 0, :e, :s, :v)"
                ),
                {"n": rows[-1].name, "e": rows[-1].epoch, "s": rows[-1].step, "v": rows[-1].value},
            )
        command.upgrade(config, "head")
        with Session(engine) as session:
            for max_points in (100, 1000):
                assert _same(_read(session, "j1", max_points, None, None), _reference(rows, max_points, None, None))
    finally:
        engine.dispose()


def test_full_reads_of_several_names_come_in_name_fold_and_position_order(session: Session) -> None:
    job_id = _job(session)
    rows = [
        MetricRow(name, fold, step // 10, step, float(step))
        for name in ("val_loss", "lr")
        for fold in (1, 0)
        for step in range(30)
    ]
    record_metrics(session=session, job_id=job_id, rows=rows[::-1])
    session.commit()
    series = read_series(session=session, job_id=job_id, names=["val_loss", "lr"], fold=None, max_points=None)
    assert [(s.name, s.fold) for s in series] == [("lr", 0), ("lr", 1), ("val_loss", 0), ("val_loss", 1)]
    assert all([p.step for p in s.points] == list(range(30)) for s in series)
    sampled = read_series(session=session, job_id=job_id, names=["val_loss", "lr"], fold=1, max_points=8)
    # two buckets of 16 steps (the coarsest with 8 / 4), a rising line: each bucket's first and last point
    assert [(s.name, s.fold, [p.step for p in s.points]) for s in sampled] == [
        ("lr", 1, [0, 15, 16, 29]),
        ("val_loss", 1, [0, 15, 16, 29]),
    ]
