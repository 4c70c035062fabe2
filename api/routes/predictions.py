"""/v1/jobs/{id}/predictions: a succeeded job's model run on an uploaded table or on inline rows.

POST stores the request and sends it to a worker (202); a request of a few inline rows answers finished
(200) when a worker does within seconds. GET …/{pid} is its status, `…/{pid}.csv` and `…/{pid}.parquet`
the result: each row's predicted label (the user's own strings) or value, and a classifier's probabilities.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response, status
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from api.deps import CallerDep, OwnJobDep, SessionDep, SettingsDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, error_responses
from api.idempotency import REPLAYED, IdempotencyKey
from api.routes.jobs import require_json
from api.services import predictions
from api.strict_body import validate_strictly
from core.settings import Settings
from store import models
from trainwell.predictions import PredictionRequest, Predictions, PredictionStatus, ResultFormat

router = APIRouter(
    prefix="/v1/jobs", tags=["models"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)
FINISHED: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Predictions,
        "description": "a few inline rows, predicted while the request waited; or a replay of finished ones",
        **REPLAYED,
    },
    202: REPLAYED,
}


def _result(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
            "description": "one row per input row: `predicted`, then a classifier's `probability_<label>` columns",
        }
    }


async def strict_body(http: Request) -> PredictionRequest | None:
    """The body as its schema reads (api/strict_body.py); None without one: the declared body parameter
    answers that it is required."""
    raw = await http.body()
    return validate_strictly(PredictionRequest, raw) if raw else None


StrictPredictionRequest = Annotated[PredictionRequest | None, Depends(strict_body)]


@router.post(
    "/{job_id}/predictions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Predictions,
    dependencies=[Depends(require_json)],
    responses=FINISHED | error_responses(400, 404, 409, 413, 415),
)
def create_predictions(
    job: OwnJobDep,
    _: Annotated[PredictionRequest, Body()],
    request: StrictPredictionRequest,
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Predictions:
    """Predict with the job's model on `dataset` (an uploaded table with the job's feature columns) or on
    up to 1,000 inline `rows` (each the features' values in the model's order, raw: the model normalizes).
    409 `job_not_finished` or `no_weights` for a job without a trained model. A repeated `Idempotency-Key`
    answers the predictions it made the first time, as they stand now; with another body or job, 409
    `idempotency_conflict`."""
    assert request is not None  # the declared body parameter refused a missing body
    requested = predictions.request_predictions(
        session=session, caller=caller, settings=settings, job=job, request=request, idempotency_key=idempotency_key
    )
    if requested.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if requested.predictions.status != PredictionStatus.pending:
        response.status_code = status.HTTP_200_OK
    return requested.predictions


@router.get(
    "/{job_id}/predictions/{prediction_id}.csv",
    response_class=FileResponse,
    responses=_result(predictions.MEDIA_TYPES["csv"]) | error_responses(404, 409),
)
def read_predictions_csv(job: OwnJobDep, prediction_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The result as CSV, once the predictions succeeded (409 `predictions_pending` until then)."""
    return _result_file(job, prediction_id, session, settings, "csv")


@router.get(
    "/{job_id}/predictions/{prediction_id}.parquet",
    response_class=FileResponse,
    responses=_result(predictions.MEDIA_TYPES["parquet"]) | error_responses(404, 409),
)
def read_predictions_parquet(
    job: OwnJobDep, prediction_id: str, session: SessionDep, settings: SettingsDep
) -> Response:
    """The result as Parquet, once the predictions succeeded (409 `predictions_pending` until then)."""
    return _result_file(job, prediction_id, session, settings, "parquet")


@router.get("/{job_id}/predictions/{prediction_id}", response_model=Predictions, responses=error_responses(404, 409))
def read_predictions(job: OwnJobDep, prediction_id: str, session: SessionDep, settings: SettingsDep) -> Predictions:
    """The predictions' status, and once succeeded the links to their CSV and Parquet files."""
    return predictions.read_predictions(session=session, settings=settings, job=job, prediction_id=prediction_id)


def _result_file(
    job: models.Job, prediction_id: str, session: Session, settings: Settings, result_format: ResultFormat
) -> Response:
    path = predictions.predictions_file(
        session=session, settings=settings, job=job, prediction_id=prediction_id, result_format=result_format
    )
    return FileResponse(
        path, media_type=predictions.MEDIA_TYPES[result_format], filename=f"{prediction_id}.{result_format}"
    )
