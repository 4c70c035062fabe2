"""An MLflow tracking server for the side-by-side bench: installed into a virtualenv of its own, started on
loopback, and spoken to over its REST API (bench/mlflow_side_by_side.py).

The virtualenv keeps MLflow's dependencies (its own SQLAlchemy, pandas, pyarrow …) out of trainwell's
environment; it is made once and reused while it holds the pinned version.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.metric_export import peak_rss_mb
from tests.stack import free_port

VENV = Path(os.environ.get("BENCH_MLFLOW_VENV", Path(__file__).parent / ".mlflow-venv"))
MLFLOW_VERSION = "3.7.0"
# psycopg2 is the driver MLflow's SQLAlchemy picks for a plain postgresql:// URI. MLflow 3.7 allows any
# SQLAlchemy < 3, but its store imports `FallbackAsyncAdaptedQueuePool`, which SQLAlchemy 2.1 removed.
REQUIREMENTS = (f"mlflow=={MLFLOW_VERSION}", "psycopg2-binary==2.9.13", "sqlalchemy>=2.0,<2.1")
# MLflow's own client pages GetMetricHistory by this many (mlflow.store.tracking.GET_METRIC_HISTORY_MAX_RESULTS).
HISTORY_PAGE = 25_000
API = "/api/2.0/mlflow"
# No telemetry or other outbound traffic from the server: the bench runs offline.
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def install_mlflow() -> tuple[Path | None, str]:
    """The MLflow executable in the bench's virtualenv, made if absent; (None, why) when it cannot be installed."""
    mlflow = VENV / "bin" / "mlflow"
    if mlflow.exists() and _installed_version(mlflow) == MLFLOW_VERSION:
        return mlflow, f"reused {VENV}"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True)
        pip = subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "--quiet", *REQUIREMENTS], capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError) as error:
        return None, f"could not make the virtualenv {VENV}: {error}"
    if pip.returncode != 0:
        return None, f"pip install {' '.join(REQUIREMENTS)} failed: {pip.stderr.strip()[-800:]}"
    version = _installed_version(mlflow)
    if version != MLFLOW_VERSION:
        return None, f"installed MLflow reports version {version!r}, not {MLFLOW_VERSION}"
    return mlflow, f"installed into {VENV}"


def _installed_version(mlflow: Path) -> str | None:
    try:
        out = subprocess.run([str(mlflow), "--version"], capture_output=True, text=True, timeout=120, env=_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().rsplit(" ", 1)[-1] if out.returncode == 0 else None


def _env() -> dict[str, str]:
    return {**os.environ, **QUIET_ENV}


@dataclass
class MlflowServer:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def pids(self) -> list[int]:
        """The server's process tree: `mlflow server`, uvicorn's supervisor and its workers."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        tree, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def peak_rss_mb(self) -> dict[int, float]:
        out = {}
        for pid in self.pids():
            with contextlib.suppress(OSError):
                out[pid] = peak_rss_mb(pid)
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_server(mlflow: Path, backend_uri: str, tmp: Path, *, workers: int = 4) -> MlflowServer:
    """`mlflow server` with MLflow 3's default of 4 uvicorn workers, artifacts on local disk and not proxied."""
    port = free_port()
    log_path = tmp / f"mlflow-{port}.log"
    command = [
        str(mlflow),
        "server",
        "--backend-store-uri",
        backend_uri,
        "--default-artifact-root",
        (tmp / "mlflow-artifacts").as_uri(),
        "--no-serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with open(log_path, "ab") as log:
        # its own session, so that stopping it reaches uvicorn's workers too
        process = subprocess.Popen(
            command, cwd=tmp, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = MlflowServer(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 180  # a first start migrates the backend store
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return server
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the MLflow server did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
        time.sleep(0.5)


def create_run(client: httpx.Client, experiment: str) -> str:
    response = client.post(f"{API}/experiments/create", json={"name": experiment})
    response.raise_for_status()
    run = client.post(
        f"{API}/runs/create",
        json={"experiment_id": response.json()["experiment_id"], "start_time": int(time.time() * 1000)},
    )
    run.raise_for_status()
    return str(run.json()["run"]["info"]["run_id"])


def log_batch_body(run_id: str, points: list[tuple[str, int, float]], timestamp: int) -> bytes:
    """A log-batch request (at most 1,000 metrics: MLflow's MAX_METRICS_PER_BATCH)."""
    metrics = [{"key": name, "value": value, "timestamp": timestamp, "step": step} for name, step, value in points]
    return json.dumps({"run_id": run_id, "metrics": metrics}).encode()


def sampled_history(
    client: httpx.Client, run_id: str, key: str, max_results: int, steps: tuple[int, int] | None = None
) -> list[dict[str, Any]]:
    """GetMetricHistoryBulkInterval, the sampled read MLflow's UI charts with: one metric key a request."""
    params: dict[str, Any] = {"run_ids": run_id, "metric_key": key, "max_results": max_results}
    if steps is not None:
        params.update(start_step=steps[0], end_step=steps[1])
    response = client.get(f"{API}/metrics/get-history-bulk-interval", params=params)
    response.raise_for_status()
    return list(response.json().get("metrics", []))


def full_history(client: httpx.Client, run_id: str, key: str) -> int:
    """Every point of one series by GetMetricHistory pages, as MLflow's client reads it; the points read."""
    params: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
    count = 0
    while True:
        response = client.get(f"{API}/metrics/get-history", params=params)
        response.raise_for_status()
        body = response.json()
        count += len(body.get("metrics", []))
        if not body.get("next_page_token"):
            return count
        params["page_token"] = body["next_page_token"]
