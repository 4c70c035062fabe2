"""Predictions of a succeeded job's model on an uploaded table or inline rows, made by a worker.

The API never imports torch: it checks the request against the model file's card (read from the
safetensors header alone, trainwell.model_card.read_card), stores the request — inline rows as a file
the worker reads — and sends the predict task (worker/predictions.py), which writes the result beside
the job's checkpoints. Everything is checked before anything is written, so a refused request leaves
nothing behind.

A request with an Idempotency-Key is answered by the row an earlier one with the key made, when there is
one (api/services/prediction_replays.py). Of two concurrent requests with one key the unique key lets one
row in; the other removes the rows file it wrote and answers the winner's row.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.services.errors import Conflict, InvalidField, NotFound
from api.services.model_downloads import kept_model_file
from api.services.prediction_replays import replayed_prediction, request_fingerprint
from core.broker import enqueue_predictions
from core.settings import Settings
from store import datasets as dataset_store
from store import models
from store import predictions as prediction_store
from store.principals import Caller
from trainwell.model_card import ModelCard, read_card
from trainwell.predictions import PredictionRequest, Predictions, PredictionStatus, ResultFormat

# A request of this many inline rows or fewer waits for its worker up to SYNC_WAIT_SECONDS and answers
# finished when the worker does (a worker idle or between jobs answers in well under a second).
SYNC_MAX_ROWS = 100
SYNC_WAIT_SECONDS = 3.0
SYNC_POLL_SECONDS = 0.05
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the model reads float32: a larger value would be infinite


@dataclass(frozen=True)
class Requested:
    predictions: Predictions
    replayed: bool = False  # an earlier request with the same Idempotency-Key created them


def request_predictions(
    *,
    session: Session,
    caller: Caller,
    settings: Settings,
    job: models.Job,
    request: PredictionRequest,
    idempotency_key: str | None = None,
) -> Requested:
    """Store the request and send it to a worker; a small inline one is answered finished when it can be.
    A repeated `idempotency_key` answers the predictions it made; one used for another request, Conflict."""
    fingerprint = None
    if idempotency_key is not None:  # a replay before the checks: it is no new request, so none applies
        fingerprint = request_fingerprint(job_id=job.id, request=request)
        existing = replayed_prediction(session=session, job=job, key=idempotency_key, fingerprint=fingerprint)
        if existing is not None:
            return Requested(predictions_public(existing, _card(settings, job)), replayed=True)
    card = _card(settings, job)
    prediction_id = prediction_store.new_prediction_id()
    rows_file = prediction_store.input_path(settings.checkpoint_dir, job.id, prediction_id)
    if request.dataset is not None:
        rows = _check_dataset(session=session, caller=caller, card=card, dataset_id=request.dataset)
    else:
        assert request.rows is not None
        _check_rows(request.rows, card)
        rows = len(request.rows)
        _write_rows(rows_file, request.rows)
    try:
        row = _store_request(
            session=session,
            job=job,
            prediction_id=prediction_id,
            dataset_id=request.dataset,
            rows=rows,
            rows_file=rows_file,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
    except IntegrityError:  # a concurrent request with the same key stored its row first
        session.rollback()
        if idempotency_key is None or fingerprint is None:
            raise
        existing = replayed_prediction(session=session, job=job, key=idempotency_key, fingerprint=fingerprint)
        if existing is None:
            raise
        return Requested(predictions_public(existing, card), replayed=True)
    enqueue_predictions(job.id, prediction_id)  # a lost send is made again once the row's lease runs out
    if request.rows is not None and rows <= SYNC_MAX_ROWS:
        _wait_briefly(session, row)
    return Requested(predictions_public(row, card))


def _store_request(
    *,
    session: Session,
    job: models.Job,
    prediction_id: str,
    dataset_id: str | None,
    rows: int,
    rows_file: Path,
    idempotency_key: str | None,
    fingerprint: str | None,
) -> models.Prediction:
    """The committed row; its rows file is removed when it cannot be stored (a lost key race included),
    so no file outlives a request that made no row. The job's fields are read first: a failed flush
    expires them, and reading one then would raise in place of the flush's error."""
    job_id, principal_id = job.id, job.principal_id
    try:
        row = prediction_store.create_prediction(
            session=session,
            prediction_id=prediction_id,
            job_id=job_id,
            principal_id=principal_id,
            dataset_id=dataset_id,
            rows=rows,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
        )
        session.commit()
    except BaseException:
        rows_file.unlink(missing_ok=True)
        raise
    return row


def _card(settings: Settings, job: models.Job) -> ModelCard:
    return read_card(kept_model_file(job=job, checkpoint_dir=settings.checkpoint_dir, use="usable for predictions"))


def read_predictions(*, session: Session, settings: Settings, job: models.Job, prediction_id: str) -> Predictions:
    row = _own_prediction(session=session, job=job, prediction_id=prediction_id)
    if prediction_store.renew_lapsed(session=session, row=row):
        session.commit()
        enqueue_predictions(job.id, row.id)
    return predictions_public(row, _card(settings, job))


def predictions_file(
    *, session: Session, settings: Settings, job: models.Job, prediction_id: str, result_format: ResultFormat
) -> Path:
    """The finished result's file; Conflict while it is pending or when it failed."""
    row = _own_prediction(session=session, job=job, prediction_id=prediction_id)
    if row.status == PredictionStatus.failed.value:
        raise Conflict("predictions_failed", f"predictions {row.id!r} failed: {row.error}")
    path = prediction_store.result_path(settings.checkpoint_dir, job.id, row.id, result_format)
    if row.status != PredictionStatus.succeeded.value or not path.is_file():
        raise Conflict("predictions_pending", f"predictions {row.id!r} are not made yet; GET it for its status")
    return path


def predictions_public(row: models.Prediction, card: ModelCard) -> Predictions:
    done = row.status == PredictionStatus.succeeded.value
    base = f"/v1/jobs/{row.job_id}/predictions/{row.id}"
    return Predictions(
        id=row.id,
        job_id=row.job_id,
        status=PredictionStatus(row.status),
        dataset=row.dataset_id,
        rows=row.rows,
        task=card.task,
        labels=card.labels,
        features=card.features,
        error=row.error,
        csv_url=f"{base}.csv" if done else None,
        parquet_url=f"{base}.parquet" if done else None,
        requested_at=row.requested_at,
        finished_at=row.finished_at,
    )


def _own_prediction(*, session: Session, job: models.Job, prediction_id: str) -> models.Prediction:
    row = prediction_store.get_prediction(session=session, job_id=job.id, prediction_id=prediction_id)
    if row is None:
        raise NotFound("predictions", prediction_id)
    return row


def _check_dataset(*, session: Session, caller: Caller, card: ModelCard, dataset_id: str) -> int:
    """The uploaded table's row count, once its feature columns are the model's (in any order)."""
    found = dataset_store.get_dataset(session=session, dataset_id=dataset_id, principal_id=caller.scope)
    if found is None:
        raise InvalidField("dataset", f"uploaded dataset {dataset_id!r} not found; upload it with POST /v1/datasets")
    missing = [name for name in card.features if name not in found.columns]
    extra = [name for name in found.columns if name not in card.features]
    if missing or extra:
        said = [f"missing {_names(missing)}" if missing else "", f"extra {_names(extra)}" if extra else ""]
        raise InvalidField(
            "dataset",
            f"the table's feature columns are not the model's: {'; '.join(part for part in said if part)} "
            f"(the model takes {_names(card.features)}; the table's target {found.target!r} is not read)",
            detail="feature columns differ from the model's",
            missing=missing,
            extra=extra,
        )
    return found.rows


def _check_rows(rows: list[list[float]], card: ModelCard) -> None:
    width = len(card.features)
    for index, values in enumerate(rows):
        if len(values) != width:
            raise InvalidField(
                f"rows[{index}]",
                f"row {index} has {len(values)} values; the model takes {width}: {_names(card.features)}",
                detail=f"{len(values)} values, expected {width}",
                index=index,
            )
        bad = next((column for column, value in enumerate(values) if not _float32(value)), None)
        if bad is not None:
            raise InvalidField(
                f"rows[{index}]",
                f"row {index} holds {values[bad]} for {card.features[bad]!r}; every value must be a finite float32 number",
                detail="not a finite number",
                index=index,
                column=card.features[bad],
            )


def _float32(value: float) -> bool:
    return math.isfinite(value) and abs(value) <= FLOAT32_MAX


def _write_rows(path: Path, rows: list[list[float]]) -> None:
    """The rows as float32 .npy, written beside their name and renamed (the worker sees all or nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            np.save(file, np.asarray(rows, dtype=np.float32))
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _wait_briefly(session: Session, row: models.Prediction) -> None:
    deadline = time.monotonic() + SYNC_WAIT_SECONDS
    while row.status == PredictionStatus.pending.value and time.monotonic() < deadline:
        time.sleep(SYNC_POLL_SECONDS)
        session.refresh(row)
        session.commit()  # end the read's transaction, so the next one sees the worker's commit


def _names(names: list[str], shown: int = 20) -> str:
    return ", ".join(repr(name) for name in names[:shown]) + (", …" if len(names) > shown else "")
