"""/v1/jobs: submit, read, list, cancel, metrics."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from pydantic import WithJsonSchema

from api.deps import CallerDep, OwnJobDep, SessionDep, SettingsDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, ApiError, error_responses
from api.idempotency import REPLAYED, IdempotencyKey, mark_replayed
from api.services import cancellation, job_removal, jobs, metrics, submission
from store.jobs import Cursor
from trainwell.job import Job, JobMetrics, JobPage, JobStatus
from trainwell.metrics import CUSTOM_NAME, METRIC_NAMES
from trainwell.spec import UPLOADED_DATASET_ID, JobSpec

# Folds are stored as SQL INTEGER: a larger index could only fail in the database.
MAX_FOLD = 2**31 - 1

# The JobSpec's examples, named for /docs (Swagger's default body is the first one).
SPEC_EXAMPLES: dict[str, Any] = {
    example["name"]: {"summary": example["name"], "value": example}
    | (
        {"description": "Upload a table first (POST /v1/datasets) and put the `id` it answers in `dataset.name`."}
        if UPLOADED_DATASET_ID.match(example["dataset"]["name"])
        else {}
    )
    for example in cast(dict[str, Any], JobSpec.model_config.get("json_schema_extra"))["examples"]
}
MAX_STEP = 2**31 - 1  # the store's step column is a 32-bit integer
# `names` items: metric names, comma-separated or not; the service refuses any other, naming the allowed.
_NAME = "|".join([*sorted(METRIC_NAMES), CUSTOM_NAME.pattern.strip("^$")])
METRIC_NAMES_ITEM = WithJsonSchema({"type": "string", "pattern": f"^(?:{_NAME})?(?:,(?:{_NAME})?)*$"})

router = APIRouter(
    prefix="/v1/jobs", tags=["jobs"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)


async def require_json(request: Request, _: CallerDep) -> None:
    """A body in another media type, or none declared, is a 415 naming the one expected; FastAPI would
    validate its bytes as the spec and answer that the body is not an object. After the key check (the
    CallerDep), so a request without a key is a 401 whatever it sends."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json")):
        return
    if await request.body():  # no body at all is a 422 saying it is required
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the job spec as application/json, not {media_type or 'no content type'!r}",
            {"expected": "application/json"},
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Job,
    dependencies=[Depends(require_json)],
    responses={201: REPLAYED, **error_responses(400, 409, 413, 415, 429)},
)
async def create_job(
    spec: Annotated[JobSpec, Body(openapi_examples=SPEC_EXAMPLES)],
    session: SessionDep,
    caller: CallerDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Job:
    """Submit a training job. A repeated `Idempotency-Key` returns the job it created the first time."""
    submitted = await submission.submit_job(
        session=session, caller=caller, settings=settings, spec=spec, idempotency_key=idempotency_key
    )
    return mark_replayed(response, submitted)


@router.get("", response_model=JobPage, responses=error_responses(400))
def read_jobs(
    session: SessionDep,
    caller: CallerDep,
    status: JobStatus | None = None,
    parent_id: Annotated[str | None, Query(description="only the probe and remedy jobs of this job")] = None,
    sweep_id: Annotated[str | None, Query(description="only the trials of this sweep")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="the previous page's `next_cursor`")] = None,
) -> JobPage:
    """Your jobs, newest first; pass `next_cursor` back as `cursor` for the next page."""
    try:
        position = Cursor.decode(cursor) if cursor else None
    except ValueError:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned") from None
    return jobs.read_jobs(
        session=session,
        caller=caller,
        limit=limit,
        status=status,
        parent_id=parent_id,
        sweep_id=sweep_id,
        cursor=position,
    )


@router.get("/{job_id}", response_model=Job, responses=error_responses(404))
def read_job(job: OwnJobDep, session: SessionDep) -> Job:
    return jobs.job_public(session=session, job=job)


@router.post("/{job_id}/cancel", response_model=Job, responses=error_responses(404, 409))
def cancel_job(job: OwnJobDep, session: SessionDep) -> Job:
    """Cancel a queued job (it never starts) or a running one (it stops at the next step)."""
    return cancellation.cancel_job(session=session, job=job)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404, 409))
def delete_job(job: OwnJobDep, session: SessionDep, settings: SettingsDep) -> Response:
    """Delete a job with everything it stored: metric history, diagnosis, landscape, exported models,
    checkpoints, and its probe jobs. A queued or running job stops. Its remedy jobs stay (their
    `parent_id` becomes null). 409 `job_in_sweep` for a sweep's trial, `job_is_probe` for a probe. A
    second delete is a 404."""
    job_removal.delete_job(session=session, settings=settings, job=job)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{job_id}/metrics", response_model=JobMetrics, responses=error_responses(404))
def read_job_metrics(
    job: OwnJobDep,
    session: SessionDep,
    names: Annotated[
        list[Annotated[str, METRIC_NAMES_ITEM]] | None,
        Query(
            description="metric names; repeat or comma-separate (default: all)",
            openapi_examples={"losses": {"summary": "the losses", "value": ["train_loss", "val_loss"]}},
        ),
    ] = None,
    fold: Annotated[
        int | None,
        Query(ge=0, le=MAX_FOLD, description="default: every fold", openapi_examples={"first": {"value": 0}}),
    ] = None,
    max_points: Annotated[
        int | None,
        Query(
            ge=4,
            le=100_000,
            description="sample each series for a chart of this many points: the first, last, minimum and maximum "
            "point of each bucket of 2^k steps, at the coarsest k with at least max_points / 4 buckets (between "
            "max_points and 2 x max_points points; every spike kept)",
            openapi_examples={"chart": {"summary": "enough for a chart", "value": 500}},
        ),
    ] = None,
    from_step: Annotated[int | None, Query(ge=0, le=MAX_STEP, description="the first step (zoom)")] = None,
    to_step: Annotated[int | None, Query(ge=0, le=MAX_STEP, description="the last step, inclusive (zoom)")] = None,
) -> JobMetrics:
    return metrics.read_job_metrics(
        session=session,
        job=job,
        names=names or [],
        fold=fold,
        max_points=max_points,
        steps=(from_step, to_step),
    )
