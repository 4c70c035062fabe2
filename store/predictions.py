"""Predictions of a succeeded job's model: one row per request, made by the API, finished by a worker.

`pending` → `succeeded` | `failed`. A pending row carries its request time as a lease, as a model export
does (store/model_exports.py): predicting takes seconds (bench/predictions.py), so a row pending for longer
than PREDICTION_LEASE_SECONDS lost its worker or its message, and the next read sends it again.

The files live in the job's checkpoint directory (`<job>/predictions/`), so deleting the job removes
them with the rest of it, and its rows go with the job's row (ON DELETE CASCADE).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.models import Prediction, utcnow

PREDICTION_LEASE_SECONDS = 120.0
PREDICTIONS_FOLDER = "predictions"


def new_prediction_id() -> str:
    return "pr_" + secrets.token_hex(8)


def predictions_dir(checkpoint_dir: Path, job_id: str) -> Path:
    return checkpoint_dir / job_id / PREDICTIONS_FOLDER


def input_path(checkpoint_dir: Path, job_id: str, prediction_id: str) -> Path:
    """Where a request's inline rows wait for the worker (float32 .npy)."""
    return predictions_dir(checkpoint_dir, job_id) / f"{prediction_id}.rows.npy"


def result_path(checkpoint_dir: Path, job_id: str, prediction_id: str, result_format: str) -> Path:
    return predictions_dir(checkpoint_dir, job_id) / f"{prediction_id}.{result_format}"


def create_prediction(
    *,
    session: Session,
    prediction_id: str,
    job_id: str,
    principal_id: int,
    dataset_id: str | None,
    rows: int,
    idempotency_key: str | None = None,
    request_fingerprint: str | None = None,
) -> Prediction:
    """A pending row; IntegrityError when `idempotency_key` is the principal's already."""
    row = Prediction(
        id=prediction_id,
        job_id=job_id,
        principal_id=principal_id,
        dataset_id=dataset_id,
        rows=rows,
        status="pending",
        requested_at=utcnow(),
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
    )
    session.add(row)
    session.flush()
    return row


def get_prediction(*, session: Session, job_id: str, prediction_id: str) -> Prediction | None:
    return session.scalars(
        select(Prediction).where(Prediction.id == prediction_id, Prediction.job_id == job_id)
    ).one_or_none()


def get_prediction_by_idempotency_key(*, session: Session, principal_id: int, key: str) -> Prediction | None:
    query = select(Prediction).where(Prediction.principal_id == principal_id, Prediction.idempotency_key == key)
    return session.scalars(query).one_or_none()


def renew_lapsed(*, session: Session, row: Prediction) -> bool:
    """Renew a pending row whose lease ran out; True when it must be sent to a worker again."""
    now = utcnow()
    if row.status != "pending" or now - row.requested_at < timedelta(seconds=PREDICTION_LEASE_SECONDS):
        return False
    row.requested_at = now
    session.flush()
    return True


def finish_prediction(*, session: Session, prediction_id: str, error: str | None, size: int | None = None) -> None:
    """Store the outcome: succeeded with its result files' `size` in bytes, or failed with a one-line reason."""
    session.execute(
        update(Prediction)
        .where(Prediction.id == prediction_id)
        .values(status="failed" if error is not None else "succeeded", error=error, finished_at=utcnow(), bytes=size)
    )
