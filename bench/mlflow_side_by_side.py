"""trainwell's metric store beside an MLflow tracking server, on the same backend and the same points (BENCHMARKS.md).

One run of 4 series × 250,000 steps (1,000,000 points, bench.metrics' values with their 5 spikes a series)
goes into both over loopback HTTP in batches of 1,000 points: trainwell's `POST /v1/runs/{id}/metrics`,
MLflow's `POST …/runs/log-batch`, and trainwell's worker path (`record_metrics` in the bench process, as
the worker's reporter writes a job's metrics) into a job of its own. The three take turns, `CHUNK` batches
each, so the machine's noise falls on all of them. Then, interleaved: sampled reads of 1 and 4 series
(trainwell `max_points=1000`, MLflow's `get-history-bulk-interval` with `max_results=1000`, the read its UI
charts with, one request a metric key), a zoom on a tenth of the steps, a full read of one series
(MLflow: `get-history` in its client's 25,000-point pages), and the export of every point (trainwell's CSV
export, MLflow: every series paged). The export runs on freshly started servers, each warmed on a small
run, and records their peak RSS (VmHWM) before and after.

Both servers run as shipped: trainwell's API with its default one uvicorn worker, MLflow 3 with its default
4 uvicorn workers. SQLite and PostgreSQL (a database of each system's own on the shared server).

`python -m bench.mlflow_side_by_side [--points N] [--databases sqlite,postgresql] [--repeats R]`; a run of
some databases keeps the others' figures in the results file. Skipped, with the reason written to the
results, only when MLflow cannot be installed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from bench import mlflow_server as mlflow
from bench.metrics import NAMES, point_value
from bench.mlflow_reads import export_and_memory, reads, timed, verdicts
from store.db import make_engine
from store.metrics import MetricRow, record_metrics
from tests.stack import POSTGRES_ADMIN_URL, Services, make_services, new_key, postgres_database, redis_database

RESULTS = Path(__file__).parent / "results" / "mlflow.json"
BATCH_STEPS = 250  # × 4 series = 1,000 points, MLflow's most per log-batch
CHUNK = 5  # batches each system sends in its turn
WARM_UP_STEPS = 6_250  # the runs the export's fresh servers warm on: 25,000 points
Points = list[tuple[str, int, float]]


def batch(start: int, stop: int) -> Points:
    return [(name, step, point_value(name, step)) for name in NAMES for step in range(start, stop)]


def run_points_body(points: Points) -> bytes:
    rows = [{"name": n, "step": s, "epoch": s // 100, "fold": 0, "value": v} for n, s, v in points]
    return json.dumps({"points": rows}).encode()


class Systems:
    """One backend's two servers and the runs in them."""

    def __init__(self, services: Services, key: str, server: mlflow.MlflowServer, database_url: str) -> None:
        self.services, self.key, self.server = services, key, server
        self.tw = services.client(key)
        self.ml = httpx.Client(base_url=server.base_url, timeout=600)
        self.engine = make_engine(database_url)
        self.factory = sessionmaker(self.engine, expire_on_commit=False)
        self.tw_run, self.tw_worker_job, self.tw_warm = (self.create_tw_run() for _ in range(3))
        self.ml_run, self.ml_warm = (mlflow.create_run(self.ml, f"bench-{secrets.token_hex(4)}") for _ in range(2))

    def create_tw_run(self) -> str:
        response = self.tw.post("/v1/runs", json={"task": "regression", "name": "bench-mlflow"})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def post_tw(self, run_id: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        response = self.tw.post(f"/v1/runs/{run_id}/metrics", content=body, headers=headers)
        assert response.status_code == 200 and response.json()["stored"] == 1000, response.text

    def post_ml(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        response = self.ml.post(f"{mlflow.API}/runs/log-batch", content=body, headers=headers)
        assert response.status_code == 200, response.text

    def write_worker(self, job_id: str, points: Points) -> None:
        rows = [MetricRow(name, 0, step // 100, step, value) for name, step, value in points]
        with self.factory() as session:
            record_metrics(session=session, job_id=job_id, rows=rows)
            session.commit()

    def restart(self, mlflow_exe: Path, backend_uri: str, tmp: Path) -> None:
        """Fresh server processes, for a peak RSS that counts what the export alone makes."""
        self.services.stop()
        self.services.api = None
        self.services.start_api(workers=1)
        self.ml.close()
        self.server.stop()
        self.server = mlflow.start_server(mlflow_exe, backend_uri, tmp)
        self.ml = httpx.Client(base_url=self.server.base_url, timeout=600)

    def close(self) -> None:
        self.tw.close()
        self.ml.close()
        self.engine.dispose()


def ingest(systems: Systems, steps: int) -> dict[str, Any]:
    """The timed write: each request's body encoded before its clock starts, for both systems alike."""
    starts = list(range(0, steps, BATCH_STEPS))
    seconds = {"trainwell_http": 0.0, "trainwell_worker": 0.0, "mlflow_log_batch": 0.0}
    paired: list[float] = []  # MLflow's time over trainwell's for the same chunk of batches
    stamp = int(time.time() * 1000)
    for turn, first in enumerate(range(0, len(starts), CHUNK)):
        chunk = [batch(s, s + BATCH_STEPS) for s in starts[first : first + CHUNK]]
        tw_bodies = [run_points_body(p) for p in chunk]
        ml_bodies = [mlflow.log_batch_body(systems.ml_run, p, stamp) for p in chunk]

        def trainwell_http(bodies: list[bytes] = tw_bodies) -> None:
            for body in bodies:
                systems.post_tw(systems.tw_run, body)

        def trainwell_worker(chunk: list[Points] = chunk) -> None:
            for points in chunk:
                systems.write_worker(systems.tw_worker_job, points)

        def mlflow_log_batch(bodies: list[bytes] = ml_bodies) -> None:
            for body in bodies:
                systems.post_ml(body)

        sends = {f.__name__: f for f in (trainwell_http, trainwell_worker, mlflow_log_batch)}
        order = list(sends)[turn % 3 :] + list(sends)[: turn % 3]  # nobody always goes first
        took = {name: timed(sends[name])[0] for name in order}
        for name, elapsed in took.items():
            seconds[name] += elapsed
        paired.append(took["mlflow_log_batch"] / took["trainwell_http"])
        if turn % 50 == 49:
            done = (first + CHUNK) * BATCH_STEPS * len(NAMES)
            print(f"ingest: {done:,} points, seconds so far {seconds}", flush=True)
    points = len(NAMES) * steps
    rates = {name: round(points / elapsed) for name, elapsed in seconds.items()}
    return {
        "points": points,
        "points_per_s": rates,
        "seconds": {name: round(elapsed, 1) for name, elapsed in seconds.items()},
        "ratio_trainwell_http_over_mlflow": round(rates["trainwell_http"] / rates["mlflow_log_batch"], 2),
        "ratio_trainwell_worker_over_mlflow": round(rates["trainwell_worker"] / rates["mlflow_log_batch"], 2),
        "ratio_median_of_paired_chunks": round(statistics.median(paired), 2),
    }


def write_warm_up(systems: Systems) -> None:
    """The small runs the fresh servers warm on (untimed)."""
    stamp = int(time.time() * 1000)
    for start in range(0, WARM_UP_STEPS, BATCH_STEPS):
        points = batch(start, start + BATCH_STEPS)
        systems.post_tw(systems.tw_warm, run_points_body(points))
        systems.post_ml(mlflow.log_batch_body(systems.ml_warm, points, stamp))


@contextmanager
def backends(kind: str, tmp: Path) -> Iterator[tuple[str, str, str]]:
    """(trainwell database URL, its broker URL, MLflow's backend store URI), each system a database of its own."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/trainwell.sqlite", f"sqla+sqlite:///{tmp}/broker.sqlite", f"sqlite:///{tmp}/mlflow.db"
        return
    import psycopg

    name = f"bench_mlflow_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with postgres_database() as url, redis_database() as broker:
            yield url, broker, f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def analyze(systems: Systems, backend_uri: str) -> None:
    """Fresh statistics for both databases after the bulk of writes, as autovacuum would give them in time."""
    import psycopg

    with systems.factory() as session:
        session.execute(text("ANALYZE"))
        session.commit()
    with psycopg.connect(backend_uri, autocommit=True) as conn:
        conn.execute("ANALYZE")


def measure(kind: str, points: int, repeats: int, mlflow_exe: Path) -> dict[str, Any]:
    steps = points // len(NAMES)
    results: dict[str, Any] = {"run_at": datetime.now(UTC).isoformat(timespec="seconds"), "points": points}
    load: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_name, backends(kind, Path(tmp_name)) as (url, broker, backend_uri):
        tmp = Path(tmp_name)
        services = make_services(tmp, database_url=url, broker_url=broker)
        key = new_key(url, "bench-mlflow")
        server = None
        try:
            services.start_api(workers=1)
            server = mlflow.start_server(mlflow_exe, backend_uri, tmp)
            systems = Systems(services, key, server, url)
            try:
                load["ingest"] = os.getloadavg()[0]
                results["ingest"] = ingest(systems, steps)
                print(json.dumps(results["ingest"]), flush=True)
                write_warm_up(systems)
                if kind == "postgresql":
                    analyze(systems, backend_uri)
                load["reads"] = os.getloadavg()[0]
                results["reads"] = reads(systems, steps, repeats)
                load["export"] = os.getloadavg()[0]
                systems.restart(mlflow_exe, backend_uri, tmp)
                results["export"] = export_and_memory(systems, steps)
                load["end"] = os.getloadavg()[0]
            finally:
                server = systems.server
                systems.close()
        finally:
            services.stop()
            if server is not None:
                server.stop()
    results["load_average_1m"] = {phase: round(value, 2) for phase, value in load.items()}
    results["targets"] = verdicts(results)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mlflow_side_by_side")
    parser.add_argument("--points", type=int, default=1_000_000, help="points in the run (4 series)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--repeats", type=int, default=10, help="rounds of each read")
    args = parser.parse_args(argv)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results: dict[str, Any] = {k: v for k, v in previous.items() if k in ("sqlite", "postgresql")}
    results["cpus"] = os.cpu_count()
    mlflow_exe, how = mlflow.install_mlflow()
    if mlflow_exe is None:
        print(f"skipped: MLflow could not be installed: {how}", flush=True)
        RESULTS.write_text(json.dumps({"skipped": f"MLflow could not be installed: {how}"}, indent=2) + "\n")
        return
    results["mlflow"] = {"version": mlflow.MLFLOW_VERSION, "venv": how, "workers": 4}
    for kind in args.databases.split(","):
        print(f"-- {kind}", flush=True)
        results[kind] = measure(kind, args.points, args.repeats, mlflow_exe)
        print(json.dumps(results[kind], indent=2), flush=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
