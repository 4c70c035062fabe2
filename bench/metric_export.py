"""The metric export (GET /v1/jobs/{id}/metrics/export) at 1,000,000 points, through real HTTP (BENCHMARKS.md).

One job of 4 series × 250,000 steps, written in bulk (bench.metrics.bulk_job), on SQLite and on
PostgreSQL. For each format, a freshly started API process (api.serve's uvicorn command, one worker)
first exports a 60,000-point job (imports, pools, caches and the threads' malloc arenas warm), then the
whole 1M-point job while the bench reads it; the figure is the process's peak RSS (VmHWM) after the
export less its peak before. Baseline
in the same run, measured the same way: the JSON read of the same points (GET …/metrics without
`max_points`), which builds the whole answer in memory. Target: ≤ 20 MB of RSS growth for the export.

`python -m bench.metric_export` (`BENCH_EXPORT_STEPS` shortens the job; `BENCH_EXPORT_DATABASES=sqlite`
measures one database).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import sessionmaker

from bench.metrics import NAMES, bulk_job
from store.db import make_engine
from store.principals import get_or_create_principal
from tests.stack import Services, make_services, new_key, postgres_database, redis_database

RESULTS = Path(__file__).parent / "results" / "metric_export.json"
STEPS = int(os.environ.get("BENCH_EXPORT_STEPS", 250_000))
DATABASES = os.environ.get("BENCH_EXPORT_DATABASES", "sqlite,postgresql").split(",")
TARGET_MB = 20
CHUNK = 1 << 16
# the warm-up job: 60,000 points, a dozen pages and more than a Parquet row group
WARM_UP_STEPS = 15_000


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def read_streamed(client: Any, path: str, params: dict[str, str]) -> tuple[float, int]:
    """Seconds to read the whole answer, and its bytes."""
    began = time.perf_counter()
    received = 0
    with client.stream("GET", path, params=params, timeout=600) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_raw(CHUNK):
            received += len(chunk)
    return time.perf_counter() - began, received


def _measure(services: Services, key: str, small: str, big: str, path: str, params: dict[str, str]) -> dict[str, Any]:
    """One fresh API process: a warm-up read of the small job, then the big one."""
    try:
        services.start_api(workers=1)
        with services.client(key) as client:
            read_streamed(client, path.format(job=small), params)
            assert services.api is not None
            before = peak_rss_mb(services.api.pid)
            seconds, received = read_streamed(client, path.format(job=big), params)
            after = peak_rss_mb(services.api.pid)
    finally:
        services.stop()
        services.api = None
    points = len(NAMES) * STEPS
    return {
        "seconds": round(seconds, 2),
        "points_per_s": round(points / seconds),
        "mb": round(received / 1e6, 1),
        "peak_rss_before_mb": round(before, 1),
        "rss_growth_mb": round(after - before, 1),
    }


def measure(database_url: str, broker_url: str, tmp: Path) -> dict[str, Any]:
    services = make_services(tmp, database_url=database_url, broker_url=broker_url)
    key = new_key(database_url, "bench-export")
    engine = make_engine(database_url)
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        owner = get_or_create_principal(session=session, name="bench-export").id
        session.commit()
    began = time.perf_counter()
    big = bulk_job(factory, owner, STEPS)
    setup = time.perf_counter() - began
    small = bulk_job(factory, owner, WARM_UP_STEPS)
    engine.dispose()
    export = "/v1/jobs/{job}/metrics/export"
    results: dict[str, Any] = {"points": len(NAMES) * STEPS, "setup_s": round(setup, 1)}
    for export_format in ("csv", "ndjson", "parquet"):
        results[export_format] = _measure(services, key, small, big, export, {"format": export_format})
        print(export_format, results[export_format], flush=True)
    results["baseline_json_read"] = _measure(services, key, small, big, "/v1/jobs/{job}/metrics", {})
    print("json", results["baseline_json_read"], flush=True)
    worst = max(results[f]["rss_growth_mb"] for f in ("csv", "ndjson", "parquet"))
    results["target"] = f"≤ {TARGET_MB} MB RSS growth: {'met' if worst <= TARGET_MB else 'missed'} (worst {worst} MB)"
    return results


def main() -> None:
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)}
    for kind in DATABASES:
        print(f"-- {kind}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            if kind == "sqlite":
                url, broker = f"sqlite:///{tmp}/trainwell.sqlite", f"sqla+sqlite:///{tmp}/broker.sqlite"
                results[kind] = measure(url, broker, Path(tmp))
            else:
                with postgres_database() as url, redis_database() as broker:
                    results[kind] = measure(url, broker, Path(tmp))
    print(json.dumps(results, indent=2))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
