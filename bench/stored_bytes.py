"""A principal's stored bytes summed from its rows (store/stored_bytes.py), on SQLite and PostgreSQL.

The sum is what a capped deployment (TRAINWELL_MAX_STORED_BYTES) adds to each upload and job submission,
and what GET /v1/usage reads. Measured for a principal with JOBS jobs (each with a pt2 and an onnx
export and a safetensors row) and DATASETS uploads, among OTHERS other principals of the same size, and
for the total /metrics reads. Baseline, in the same run: the bounded counts every submission already
pays (store/quotas.py `usage`).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

from bench.service import percentile
from store.db import make_engine
from store.migrate import upgrade_database
from store.models import Dataset, Job, ModelExport
from store.principals import get_or_create_principal
from store.quotas import Limits, usage
from store.stored_bytes import stored_bytes, total_stored_bytes
from tests.stack import empty_database

RESULTS = Path(__file__).parent / "results" / "stored_bytes.json"
JOBS = int(os.environ.get("BENCH_STORED_JOBS", 10_000))
DATASETS = int(os.environ.get("BENCH_STORED_DATASETS", 1_000))
OTHERS = int(os.environ.get("BENCH_STORED_OTHERS", 4))
READS = 30


def ms(seconds: list[float]) -> dict[str, float]:
    return {"p50_ms": round(1000 * statistics.median(seconds), 2), "p95_ms": round(1000 * percentile(seconds, 0.95), 2)}


def timed(call: Callable[[], Any]) -> list[float]:
    call()  # warm: the statement compiled and cached
    seconds = []
    for _ in range(READS):
        began = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - began)
    return seconds


def fill(session: Session, principal_id: int) -> None:
    now = datetime.now(UTC)
    jobs = [
        {
            "id": str(uuid.uuid4()),
            "principal_id": principal_id,
            "status": "succeeded",
            "spec": {},
            "queue": "train",
            "origin": "user",
            "epochs": 1,
            "created_at": now - timedelta(seconds=i),
            "checkpoint_bytes": 50_000 + i,
        }
        for i in range(JOBS)
    ]
    session.execute(insert(Job), jobs)
    exports = [
        {
            "job_id": job["id"],
            "principal_id": principal_id,
            "format": fmt,
            "status": "ready",
            "requested_at": now,
            "bytes": 20_000,
        }
        for job in jobs
        for fmt in ("safetensors", "pt2", "onnx")
    ]
    session.execute(insert(ModelExport), exports)
    datasets = [
        {
            "principal_id": principal_id,
            "id": f"ds_{i:016x}",
            "format": "csv",
            "task": "classification",
            "target": "y",
            "rows": 100,
            "columns": ["a"],
            "bytes": 1_000 + i,
            "created_at": now,
        }
        for i in range(DATASETS)
    ]
    session.execute(insert(Dataset), datasets)


def measure(kind: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, empty_database(kind, Path(tmp)) as url:
        upgrade_database(url)
        engine = make_engine(url)
        factory = sessionmaker(engine, expire_on_commit=False)
        with factory() as session:
            principals = [get_or_create_principal(session=session, name=f"p{i}").id for i in range(1 + OTHERS)]
            for principal_id in principals:
                fill(session, principal_id)
            session.commit()
            if kind == "postgresql":
                session.execute(text("ANALYZE"))
                session.commit()
            mine = principals[0]
            limits = Limits(
                principal_id=mine, since=datetime.now(UTC) - timedelta(minutes=1), max_active=100, max_recent=120
            )
            figures = {
                "principal_sum": ms(timed(lambda: stored_bytes(session=session, principal_id=mine))),
                "all_principals_sum": ms(timed(lambda: total_stored_bytes(session=session))),
                "baseline_quota_counts": ms(timed(lambda: usage(session=session, limits=limits))),
            }
        engine.dispose()
        return figures


def main() -> None:
    results: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "principal": {"jobs": JOBS, "exports": 3 * JOBS, "datasets": DATASETS},
        "principals": 1 + OTHERS,
    }
    for kind in ("sqlite", "postgresql"):
        print(f"-- {kind}", flush=True)
        results[kind] = measure(kind)
        print(json.dumps(results[kind], indent=2), flush=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
