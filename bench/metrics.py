"""The metric store at scale, on SQLite and PostgreSQL, through the store layer (BENCHMARKS.md).

1. Ingest: 1,000,000 points in one job (4 series × 250,000 steps) through `record_metrics` in batches
   of 1,000 rows (250 steps of each series), rollups included. Baseline, interleaved in the same run
   (one baseline batch after every fifth batch, on a job of its own): the previous write path, kept
   here only (the upsert built with `.values(rows)` and compiled afresh each call, no rollups).
2. Reads of that job: sampled (`max_points=1000`) of 1 and of 4 series, a zoom (a tenth of the steps,
   `max_points=1000`) and a full read of one 250,000-point series, each beside the previous read path
   (ordered by name, fold, step, epoch against the key's order, a pydantic point per row, then M4).
   The sampled read again at 10,000,000 points (4 × 2,500,000, written in bulk in setup).
3. The admin's job list (every principal, newest first, 50 a page) at 100,000 jobs: first and 50th
   page, with the (created_at, id) index and, as the baseline, with it dropped; the query plans.

MLflow side by side: bench/mlflow_side_by_side.py.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.service import percentile
from core.downsample import downsample
from core.rollup import Point, summarize
from store.bulk_upsert import upsert_rows
from store.db import make_engine, upsert_insert
from store.jobs import list_jobs
from store.metric_rollups import rollup_row
from store.metrics import MetricRow, read_series, record_metrics
from store.migrate import upgrade_database
from store.models import Job, LatestMetric, Metric, MetricRollup
from store.principals import get_or_create_principal
from tests.stack import empty_database
from trainwell.job import MetricPoint, MetricSeries

RESULTS = Path(__file__).parent / "results" / "metrics.json"
NAMES = ("step_loss", "step_grad_norm", "step_lr", "train_loss")
STEPS = int(os.environ.get("BENCH_METRICS_STEPS", 250_000))
BATCH_STEPS = 250  # × 4 series = 1,000 rows a batch
BIG_STEPS = int(os.environ.get("BENCH_METRICS_BIG_STEPS", 2_500_000))
JOBS = int(os.environ.get("BENCH_METRICS_JOBS", 100_000))
READS = 20


def ms(seconds: list[float]) -> dict[str, float]:
    return {"p50_ms": round(1000 * statistics.median(seconds), 2), "p95_ms": round(1000 * percentile(seconds, 0.95), 2)}


def is_spike(step: int) -> bool:
    return step % 49_999 == 1_234  # off any bucket grid


def point_value(name: str, step: int) -> float:
    if is_spike(step):
        return 1e3
    return 1.0 / (1 + step / 1000) + 0.01 * math.sin(step * 0.37 + len(name))


def _batch(start: int, stop: int) -> list[MetricRow]:
    return [
        MetricRow(name, 0, step // 100, step, point_value(name, step)) for name in NAMES for step in range(start, stop)
    ]


def _previous_record_metrics(session: Session, job_id: str, rows: list[MetricRow]) -> None:
    """The write path before rollups: one `.values(rows)` upsert, compiled on every call."""
    history = [{"job_id": job_id, **row.__dict__} for row in rows]
    for table in (Metric, LatestMetric):
        data = history if table is Metric else list({row["name"]: row for row in history}.values())
        statement = upsert_insert(session, table).values(data)
        keys = [c.name for c in table.__mapper__.primary_key]
        updated = {c: statement.excluded[c] for c in ("fold", "epoch", "step", "value") if c not in keys}
        session.execute(statement.on_conflict_do_update(index_elements=keys, set_=updated))


def _previous_read_series(
    session: Session, job_id: str, names: list[str], max_points: int | None
) -> list[MetricSeries]:
    query = (
        select(Metric.name, Metric.fold, Metric.epoch, Metric.step, Metric.value)
        .where(Metric.job_id == job_id, Metric.name.in_(names))
        .order_by(Metric.name, Metric.fold, Metric.step, Metric.epoch)
    )
    grouped: dict[tuple[str, int], list[MetricPoint]] = defaultdict(list)
    for name, fold, epoch, step, value in session.execute(query):
        grouped[(name, fold)].append(MetricPoint(epoch=epoch, step=step, value=value))
    out = []
    for (name, fold), points in grouped.items():
        if max_points is not None:
            points = downsample(points, [p.value for p in points], max_points)
        out.append(MetricSeries(name=name, fold=fold, points=points))
    return out


def _new_job(session: Session, principal_id: int, created_at: datetime | None = None) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "principal_id": principal_id,
        "status": "succeeded",
        "spec": {},
        "queue": "cpu",
        "origin": "user",
        "epochs": 1,
        "created_at": created_at or datetime.now(UTC),
    }


def _timed(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def ingest(factory: sessionmaker[Session], principal_id: int) -> tuple[str, dict[str, Any]]:
    with factory() as session:
        job, baseline_job = _new_job(session, principal_id), _new_job(session, principal_id)
        session.execute(insert(Job), [job, baseline_job])
        session.commit()
        new_seconds, old_seconds, old_points = 0.0, 0.0, 0
        paired: list[float] = []
        for start in range(0, STEPS, BATCH_STEPS):
            rows = _batch(start, start + BATCH_STEPS)

            def write(rows: list[MetricRow] = rows) -> None:
                record_metrics(session=session, job_id=job["id"], rows=rows)
                session.commit()

            elapsed = _timed(write)
            new_seconds += elapsed
            if start // BATCH_STEPS % 5 == 0:

                def write_previous(rows: list[MetricRow] = rows) -> None:
                    _previous_record_metrics(session, baseline_job["id"], rows)
                    session.commit()

                previous = _timed(write_previous)
                old_seconds += previous
                old_points += len(rows)
                paired.append(previous / elapsed)
    return job["id"], {
        "points": len(NAMES) * STEPS,
        "points_per_s": round(len(NAMES) * STEPS / new_seconds),
        "previous_points_per_s": round(old_points / old_seconds),
        "speedup_median_of_paired_batches": round(statistics.median(paired), 2),
    }


def bulk_job(factory: sessionmaker[Session], principal_id: int, steps: int) -> str:
    """A job of 4 × `steps` points with its rollups, written in bulk (setup, untimed)."""
    with factory() as session:
        job = _new_job(session, principal_id)
        session.execute(insert(Job), [job])
        for name in NAMES:
            points = [Point(step // 100, step, point_value(name, step)) for step in range(steps)]
            for start in range(0, steps, 50_000):
                rows = [
                    {"job_id": job["id"], "name": name, "fold": 0, **p._asdict()}
                    for p in points[start : start + 50_000]
                ]
                upsert_rows(session=session, table=Metric, rows=rows, updated=["value"])
            summaries = [
                rollup_row(job["id"], (name, 0), level, bucket, summary)
                for level, buckets in summarize(points).items()
                for bucket, summary in buckets.items()
            ]
            last = points[-1]
            latest = {"job_id": job["id"], "name": name, "fold": 0, **last._asdict()}
            upsert_rows(session=session, table=LatestMetric, rows=[latest], updated=["value"])
            for start in range(0, len(summaries), 50_000):
                upsert_rows(
                    session=session, table=MetricRollup, rows=summaries[start : start + 50_000], updated=["count"]
                )
            session.commit()
        return str(job["id"])


def reads(factory: sessionmaker[Session], job_id: str, *, baseline: bool, steps: int) -> dict[str, Any]:
    one, four = [NAMES[0]], list(NAMES)
    zoom = (steps // 2, steps // 2 + steps // 10)
    out: dict[str, Any] = {}
    with factory() as session:
        cases: dict[str, tuple[Callable[[], Any], Callable[[], Any] | None, int]] = {
            "sampled_1_series": (
                lambda: read_series(session=session, job_id=job_id, names=one, fold=None, max_points=1000),
                lambda: _previous_read_series(session, job_id, one, 1000),
                READS,
            ),
            "sampled_4_series": (
                lambda: read_series(session=session, job_id=job_id, names=four, fold=None, max_points=1000),
                lambda: _previous_read_series(session, job_id, four, 1000),
                READS,
            ),
            "zoom_1_series": (
                lambda: read_series(
                    session=session,
                    job_id=job_id,
                    names=one,
                    fold=None,
                    max_points=1000,
                    from_step=zoom[0],
                    to_step=zoom[1],
                ),
                None,
                READS,
            ),
            "full_1_series": (
                lambda: read_series(session=session, job_id=job_id, names=one, fold=None, max_points=None),
                lambda: _previous_read_series(session, job_id, one, None),
                3,
            ),
        }
        for name, (new, old, rounds) in cases.items():
            if not baseline and name != "sampled_1_series" and name != "sampled_4_series":
                continue
            new_times, old_times = [], []
            for i in range(rounds):
                new_times.append(_timed(new))
                if baseline and old is not None and i < 3:  # the previous path is slow: three rounds of it
                    old_times.append(_timed(old))
                session.rollback()
            result: dict[str, Any] = ms(new_times)
            if old_times:
                result["previous"] = ms(old_times)
                result["speedup_p50"] = round(statistics.median(old_times) / statistics.median(new_times), 1)
            out[name] = result
        sampled = read_series(session=session, job_id=job_id, names=one, fold=None, max_points=1000)[0].points
        spikes = [s for s in range(steps) if is_spike(s)]
        out["points_returned_1_series"] = len(sampled)
        out["spikes_kept"] = f"{sum(p.step in spikes for p in sampled)} / {len(spikes)}"
    return out


def job_list(factory: sessionmaker[Session], principal_ids: list[int], dialect: str) -> dict[str, Any]:
    rng = random.Random(0)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with factory() as session:
        count = session.scalar(select(text("count(*)")).select_from(Job)) or 0
        rows = [_new_job(session, rng.choice(principal_ids), base + timedelta(seconds=i)) for i in range(JOBS - count)]
        for start in range(0, len(rows), 20_000):
            session.execute(insert(Job), rows[start : start + 20_000])
        session.commit()
        if dialect == "postgresql":
            session.execute(text("ANALYZE jobs"))
            session.commit()

        def pages(with_index: bool) -> dict[str, Any]:
            _, cursor = list_jobs(session=session, principal_id=None, limit=50)
            for _ in range(48):
                _, cursor = list_jobs(session=session, principal_id=None, limit=50, cursor=cursor)
            first = [_timed(lambda: list_jobs(session=session, principal_id=None, limit=50)) for _ in range(READS)]
            fiftieth = [
                _timed(lambda: list_jobs(session=session, principal_id=None, limit=50, cursor=cursor))
                for _ in range(READS)
            ]
            session.rollback()
            return {"first_page": ms(first), "page_50": ms(fiftieth)}

        statement = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(51)
        sql = str(statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN" if dialect == "postgresql" else "EXPLAIN QUERY PLAN"
        plan = [" ".join(str(c) for c in row) for row in session.execute(text(f"{explain} {sql}"))]
        indexed = pages(True)
        session.execute(text("DROP INDEX ix_jobs_created"))
        session.commit()
        unindexed = pages(False)
        session.execute(text("CREATE INDEX ix_jobs_created ON jobs (created_at, id)"))
        session.commit()
    return {"jobs": JOBS, "indexed": indexed, "without_index": unindexed, "plan": plan}


def measure(kind: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, empty_database(kind, Path(tmp)) as url:
        upgrade_database(url)
        engine = make_engine(url)
        factory = sessionmaker(engine, expire_on_commit=False)
        with factory() as session:
            principals = [get_or_create_principal(session=session, name=f"p{i}").id for i in range(20)]
            session.commit()
        job_id, ingest_figures = ingest(factory, principals[0])
        if kind == "postgresql":
            with factory() as session:
                session.execute(text("ANALYZE"))
                session.commit()
        results: dict[str, Any] = {
            "ingest": ingest_figures,
            "reads_1m": reads(factory, job_id, baseline=True, steps=STEPS),
        }
        big = bulk_job(factory, principals[0], BIG_STEPS)
        if kind == "postgresql":
            with factory() as session:
                session.execute(text("ANALYZE"))
                session.commit()
        results[f"reads_{len(NAMES) * BIG_STEPS // 1_000_000}m"] = reads(factory, big, baseline=False, steps=BIG_STEPS)
        results["admin_job_list"] = job_list(factory, principals, kind)
        engine.dispose()
        return results


def main() -> None:
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)}
    for kind in ("sqlite", "postgresql"):
        print(f"-- {kind}", flush=True)
        results[kind] = measure(kind)
        print(json.dumps(results[kind], indent=2), flush=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
