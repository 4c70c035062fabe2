"""The predict task: a succeeded job's model run on an uploaded table or on a request's inline rows.

Like an export it runs in a fresh process (worker/job_process.py): the pool child never runs torch
itself, so the OpenMP threads a forward pass starts never exist in a process that forks the next job.
The result is written as CSV and Parquet beside the job's checkpoints (store/predictions.py), each
atomically, then the row says succeeded: a reader who sees that finds both files whole.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from celery import Task

from core.broker import PREDICT_TASK
from core.settings import get_settings
from store import predictions as prediction_store
from store.datasets import get_dataset
from store.db import session_scope
from store.models import Prediction
from trainer.prediction import predict
from trainwell.predictions import PREDICTED_COLUMN, PROBABILITY_PREFIX
from trainwell.torch_model import RawRowsModel, load_model
from worker.celery_app import app
from worker.job_process import run_in_fresh_process
from worker.model_files import model_file_path
from worker.retry import with_database_retry

log = logging.getLogger(__name__)


@app.task(name=PREDICT_TASK, bind=True)
def predictions(self: Task, job_id: str, prediction_id: str) -> None:
    exit_code = run_in_fresh_process(lambda: predict_and_store(job_id, prediction_id))
    if exit_code != 0:  # killed, or out of memory: say so rather than leave it pending
        _store(prediction_id, f"the prediction's process exited with code {exit_code}")


def predict_and_store(job_id: str, prediction_id: str) -> None:
    started = time.perf_counter()
    with session_scope() as session:
        request = session.get(Prediction, prediction_id)
        if request is None or request.status != "pending":
            return  # the job was deleted, or a redelivered message found it done
        dataset_id = request.dataset_id
    try:
        model = load_model(model_file_path(job_id))
        rows = read_rows(job_id, prediction_id, dataset_id, model)
        size = write_result(job_id, prediction_id, model, rows)
    except Exception as exc:  # a file gone or unreadable: the reason, for the user and the log
        log.exception("job %s: predictions %s failed", job_id, prediction_id)
        _store(prediction_id, f"{type(exc).__name__}: {exc}".splitlines()[0][:400])
        return
    _store(prediction_id, None, size)
    log.info(
        "job %s: predictions %s on %d rows in %.2f s", job_id, prediction_id, len(rows), time.perf_counter() - started
    )


def read_rows(job_id: str, prediction_id: str, dataset_id: str | None, model: RawRowsModel) -> np.ndarray:
    """The raw rows in the model's feature order: an upload's columns picked by name, or the inline rows."""
    settings = get_settings()
    if dataset_id is None:
        return np.load(prediction_store.input_path(settings.checkpoint_dir, job_id, prediction_id))
    with session_scope() as session:
        row = get_dataset(session=session, dataset_id=dataset_id, principal_id=None)
        if row is None:
            raise FileNotFoundError(f"dataset {dataset_id!r} was deleted before its predictions were made")
        columns = list(row.columns)
    with np.load(settings.dataset_dir / f"{dataset_id}.npz") as stored:
        X = stored["X"]
    order = [columns.index(name) for name in model.features]
    return X if order == list(range(len(columns))) else X[:, order]


def write_result(job_id: str, prediction_id: str, model: RawRowsModel, rows: np.ndarray) -> int:
    """Write the CSV and the Parquet file; returns their bytes, which the principal's stored bytes count."""
    predicted, probabilities = predict(model, rows)
    labels = model.labels
    if probabilities is None or labels is None:
        columns: dict[str, pa.Array] = {PREDICTED_COLUMN: pa.array(predicted)}
    else:
        # labels as a dictionary: one string per class, however many rows
        columns = {PREDICTED_COLUMN: pa.DictionaryArray.from_arrays(pa.array(predicted), pa.array(labels))}
        columns |= {f"{PROBABILITY_PREFIX}{label}": pa.array(probabilities[:, k]) for k, label in enumerate(labels)}
    table = pa.table(columns)
    checkpoint_dir = get_settings().checkpoint_dir
    # not parents=True: a job deleted meanwhile has no directory, and none must be made again for it
    prediction_store.predictions_dir(checkpoint_dir, job_id).mkdir(exist_ok=True)
    size = 0
    for result_format in ("parquet", "csv"):
        path = prediction_store.result_path(checkpoint_dir, job_id, prediction_id, result_format)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            if result_format == "csv":
                pa_csv.write_csv(table, str(temporary))
            else:
                pq.write_table(table, str(temporary))
            size += temporary.stat().st_size
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    prediction_store.input_path(checkpoint_dir, job_id, prediction_id).unlink(missing_ok=True)
    return size


def _store(prediction_id: str, error: str | None, size: int | None = None) -> None:
    def write() -> None:
        with session_scope() as session:
            prediction_store.finish_prediction(session=session, prediction_id=prediction_id, error=error, size=size)

    with_database_retry(write, what=f"predictions {prediction_id}")
