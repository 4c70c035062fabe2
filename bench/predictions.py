"""Predictions against their target (BENCHMARKS.md): 100,000 rows of a 64-feature uploaded table, predicted
by the digits MLP (W1: 64-128-128-10, two epochs) as the worker's predict task does it — in a process forked
from a parent that imported what the worker imports, reading the request's row, the model file and the
table's npz, writing the CSV and the Parquet result and the row's outcome (worker/predictions.py).
Target: ≤ 3 s of worker time.

Baseline, in the same run and interleaved: the same fork loading the model file and the table and running
the forward pass alone (trainer/prediction.py), writing nothing. Medians over rounds; the ratio is paired.
The model is trained in a fork too: the forking process never runs torch (see main).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from bench.trainer import WORKLOADS
from core.settings import get_settings
from store import predictions as prediction_store
from store.datasets import create_dataset
from store.db import make_engine
from store.jobs import create_job
from store.migrate import upgrade_database
from store.models import Job, Prediction
from store.principals import get_or_create_principal
from trainer import fit
from trainer.datasets import load_dataset
from trainer.model_file import model_card, write_model_file
from trainer.prediction import predict
from trainwell.job import JobStatus
from trainwell.spec import JobSpec
from trainwell.torch_model import load_model
from uploads import Table, normalize, write_dataset
from worker.job_process import run_in_fresh_process
from worker.model_files import model_file_path
from worker.predictions import predict_and_store  # the worker's warm imports: the forks start as its do

RESULTS = Path(__file__).parent / "results" / "predictions.json"
ROWS, FEATURES, CLASSES = 100_000, 64, 10
ROUNDS = 5
TARGET_S = 3.0
FRESH = "BENCH_PREDICTIONS_FRESH_PROCESS"


def _forked_seconds(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    code = run_in_fresh_process(lambda: (work(), None)[1])
    elapsed = time.perf_counter() - began
    assert code == 0, f"the forked process exited with {code}"
    return elapsed


def _train(spec: JobSpec, model_file: Path) -> None:
    result = fit(spec)
    assert result.state_dict is not None
    write_model_file(model_file, result.state_dict, model_card(spec, result, load_dataset(spec.dataset)))


def measure(tmp: Path) -> dict[str, Any]:
    # the settings as the worker reads them, pointed at a data directory of the bench's own (read afresh)
    os.environ.update(TRAINWELL_MODE="embedded", TRAINWELL_DATA_DIR=str(tmp / "var"))
    get_settings.cache_clear()
    settings = get_settings()
    upgrade_database(settings.database_url)
    spec = JobSpec.model_validate({**WORKLOADS["W1"]["spec"], "epochs": 2})
    rng = np.random.default_rng(0)
    table = normalize(
        Table(
            columns=[f"x{k}" for k in range(FEATURES)],
            X=rng.uniform(0, 16, size=(ROWS, FEATURES)).astype(np.float32),
            target_name="digit",
            target=np.array([str(k) for k in rng.integers(0, CLASSES, ROWS)]),
        ),
        "classification",
    )
    size = write_dataset(table, settings.dataset_dir)
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        owner = get_or_create_principal(session=session, name="bench-predictions")
        job = create_job(session=session, principal_id=owner.id, spec=spec, queue="train")
        session.get_one(Job, job.id).status = JobStatus.succeeded.value
        create_dataset(session=session, principal_id=owner.id, dataset=table, name="bench", fmt="npz", size=size)
        session.commit()
        job_id = job.id
    model_file = model_file_path(job_id)
    _forked_seconds(lambda: _train(spec, model_file))

    def forward_only() -> None:
        with np.load(settings.dataset_dir / f"{table.id}.npz") as stored:
            predict(load_model(model_file), stored["X"])

    times: dict[str, list[float]] = {"worker": [], "forward": []}
    for _ in range(ROUNDS):
        with Session(engine) as session:
            prediction_id = prediction_store.new_prediction_id()
            prediction_store.create_prediction(
                session=session, prediction_id=prediction_id, job_id=job_id, dataset_id=table.id, rows=ROWS
            )
            session.commit()
        times["worker"].append(_forked_seconds(partial(predict_and_store, job_id, prediction_id)))
        times["forward"].append(_forked_seconds(forward_only))
        with Session(engine) as session:
            row = session.get_one(Prediction, prediction_id)
            assert row.status == "succeeded", row.error
    engine.dispose()
    csv_path = prediction_store.result_path(settings.checkpoint_dir, job_id, prediction_id, "csv")
    with open(csv_path) as file:
        written = sum(1 for _ in file) - 1
    assert written == ROWS, written
    worker_s, forward_s = times["worker"], times["forward"]
    return {
        "rows": ROWS,
        "features": FEATURES,
        "classes": CLASSES,
        "worker_median_s": round(statistics.median(worker_s), 3),
        "worker_max_s": round(max(worker_s), 3),
        "forward_only_median_s": round(statistics.median(forward_s), 3),
        "ratio_to_forward_only": round(statistics.median(w / f for w, f in zip(worker_s, forward_s, strict=True)), 2),
        "csv_bytes": csv_path.stat().st_size,
        "parquet_bytes": csv_path.with_suffix(".parquet").stat().st_size,
        "target_s": TARGET_S,
        "meets_target": max(worker_s) <= TARGET_S,
    }


def main() -> None:
    if os.environ.get(FRESH) != "1":
        # in an interpreter of its own: GNU OpenMP's thread team does not survive a fork (a forked child's
        # first parallel region waits forever on the parent's threads), so the process that forks the
        # predictions must never have run torch itself, as the worker's pool child never does; `make bench`
        # runs the other benchmarks' torch in its own process first
        subprocess.run([sys.executable, "-m", "bench.predictions"], env={**os.environ, FRESH: "1"}, check=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(Path(tmp))
    print(json.dumps(results, indent=2))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
