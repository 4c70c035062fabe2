"""The Idempotency-Key of a predictions request: what a retry must match, and the row it answers.

A request sent with a key stores the key and a fingerprint of the request and its job, not the request:
up to 1,000 inline rows live in their .npy already, and a sha256 is enough to tell a retry from another
request. Keys are the job's principal's, as the row's `principal_id` is (an admin acting on a job uses
its owner's keys).
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.orm import Session

from api.services.errors import Conflict
from core.broker import enqueue_predictions
from store import models
from store import predictions as prediction_store
from trainwell.predictions import PredictionRequest


def request_fingerprint(*, job_id: str, request: PredictionRequest) -> str:
    """sha256 of the request as validated (so `1` and `1.0` are one value) and the job it is for."""
    canonical = json.dumps(
        {"job_id": job_id, "request": request.model_dump(mode="json")}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayed_prediction(*, session: Session, job: models.Job, key: str, fingerprint: str) -> models.Prediction | None:
    """The predictions an earlier request with this key made, as they stand now; None when there are none.
    Conflict when the key was sent with another request (other rows, another dataset, another job)."""
    existing = prediction_store.get_prediction_by_idempotency_key(
        session=session, principal_id=job.principal_id, key=key
    )
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise Conflict(
            "idempotency_conflict",
            "Idempotency-Key was already used for other predictions (other rows, dataset or job)",
        )
    if prediction_store.renew_lapsed(session=session, row=existing):  # as a GET of it would
        session.commit()
        enqueue_predictions(existing.job_id, existing.id)
    return existing
