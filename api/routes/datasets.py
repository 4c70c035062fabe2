"""/v1/datasets: upload a CSV, Parquet or NPZ file; list the shipped and your uploaded datasets."""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile  # what request.form() yields (fastapi's is a subclass)

from api.deps import CallerDep, SessionDep, SettingsDep, nul_error, nul_field, refuse_nul_parameters
from api.errors import AUTHENTICATED, ApiError, error_responses, not_found
from core.settings import Settings
from store import catalog, models
from store import datasets as dataset_store
from store.principals import Caller
from trainwell.dataset import Dataset, DatasetKind, DatasetList
from trainwell.model_size import DataShape
from trainwell.spec import CLASSIFICATION_LOSSES, REGRESSION_LOSSES, UPLOADED_DATASET_ID, JobSpec, Task
from uploads import UploadError, UploadLimits, detect_format, normalize, read_table, write_dataset

router = APIRouter(
    prefix="/v1/datasets", tags=["datasets"], responses=AUTHENTICATED, dependencies=[Depends(refuse_nul_parameters)]
)

FIELDS = {"file", "target", "task", "name"}
TASKS: tuple[Task, ...] = ("classification", "regression")
MAX_TEXT_FIELD_BYTES = 1024
MAX_TEXT_FIELD_CHARS = 200  # the name and target columns' width
# The form is parsed by hand (to answer 415 for a body that is not multipart), so its schema
# is declared here for /docs.
UPLOAD_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": ".csv, .parquet or .npz"},
                        "target": {
                            "type": "string",
                            "maxLength": MAX_TEXT_FIELD_CHARS,
                            "description": "the target column (CSV, Parquet; required) or array (NPZ; default y)",
                        },
                        "task": {
                            "type": "string",
                            "enum": list(TASKS),
                            "description": "default: inferred — integer labels with at most 50 distinct values "
                            "(and at most 5% of the rows, or just two) or string labels are classification",
                        },
                        "name": {
                            "type": "string",
                            "maxLength": MAX_TEXT_FIELD_CHARS,
                            "description": "default: the file name",
                        },
                    },
                }
            }
        },
    }
}


def dataset_public(row: models.Dataset) -> Dataset:
    return Dataset(
        id=row.id,
        name=row.name,
        kind=DatasetKind.uploaded,
        task=cast(Task, row.task),
        rows=row.rows,
        n_features=len(row.columns),
        columns=row.columns,
        target=row.target,
        n_classes=len(row.classes) if row.classes is not None else None,
        classes=row.classes,
        format=row.format,
        bytes=row.bytes,
        created_at=row.created_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Dataset,
    openapi_extra=UPLOAD_FORM,
    responses={
        200: {"model": Dataset, "description": "you had uploaded this content already"},
        **error_responses(400, 413, 415),
    },
)
async def create_dataset(
    request: Request, session: SessionDep, caller: CallerDep, settings: SettingsDep, response: Response
) -> Dataset:
    """Upload a dataset as multipart form data: `file` (CSV with a header row, Parquet, or NPZ with
    arrays X and y), `target`, and optionally `task` and `name`. The id is the hash of the
    normalized content: uploading the same table again answers 200 with the same dataset."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the dataset as multipart/form-data (a 'file' part), not {content_type or 'no content type'!r}",
        )
    async with request.form(max_files=1, max_fields=len(FIELDS), max_part_size=MAX_TEXT_FIELD_BYTES) as form:
        unknown = sorted(set(form.keys()) - FIELDS)
        if unknown:
            raise _invalid_field(unknown[0], f"unknown form field; expected: {', '.join(sorted(FIELDS))}")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _invalid_field("file", "required: the dataset file as a multipart file part")
        fields = {key: value for key in ("target", "task", "name") if isinstance(value := form.get(key), str)}
        return await run_in_threadpool(_store_upload, session, caller, settings, response, upload, fields)


def _store_upload(
    session: SessionDep,
    caller: Caller,
    settings: Settings,
    response: Response,
    upload: UploadFile,
    fields: dict[str, str],
) -> Dataset:
    for key, value in fields.items():
        if nul_field(value, key):
            raise nul_error(key)
        if len(value) > MAX_TEXT_FIELD_CHARS:
            raise _invalid_field(key, f"at most {MAX_TEXT_FIELD_CHARS} characters, got {len(value)}")
    task = fields.get("task") or None
    if task is not None and task not in TASKS:
        raise _invalid_field("task", f"{task!r} is not one of {', '.join(TASKS)}")
    name = fields.get("name") or _display_name(upload.filename)
    limits = UploadLimits(settings.max_dataset_bytes, settings.max_dataset_rows, settings.max_dataset_columns)
    try:
        fmt = detect_format(upload.filename, upload.content_type)
        target = fields.get("target") or ("y" if fmt == "npz" else "")
        if not target:
            raise UploadError(422, "invalid_request", "target: required; name the target column of the file")
        table = read_table(upload.file, fmt=fmt, target=target, limits=limits)
        dataset = normalize(table, cast(Task | None, task))
    except UploadError as error:
        raise ApiError(error.status_code, error.code, error.message, error.details or None) from None
    existing = dataset_store.get_dataset(session=session, dataset_id=dataset.id, principal_id=caller.principal_id)
    if existing is not None:
        response.status_code = status.HTTP_200_OK
        return dataset_public(existing)
    size = write_dataset(dataset, settings.dataset_dir)
    try:
        row = dataset_store.create_dataset(
            session=session, principal_id=caller.principal_id, dataset=dataset, name=name, fmt=fmt, size=size
        )
        session.commit()
    except IntegrityError:  # the same upload, concurrently: the other request's row stands
        session.rollback()
        response.status_code = status.HTTP_200_OK
        winner = dataset_store.get_dataset(session=session, dataset_id=dataset.id, principal_id=caller.principal_id)
        if winner is None:
            raise
        return dataset_public(winner)
    return dataset_public(row)


def _display_name(filename: str | None) -> str | None:
    """The client's file name, for people only: it never becomes a path (the id does)."""
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:MAX_TEXT_FIELD_CHARS] or None


def _invalid_field(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_request", f"{field}: {message}", [{"field": field, "message": message}])


@router.get("", response_model=DatasetList)
def read_datasets(session: SessionDep, caller: CallerDep) -> DatasetList:
    """The built-in and synthetic datasets, then your uploads, newest first."""
    uploads = dataset_store.list_datasets(session=session, principal_id=caller.scope)
    return DatasetList(data=catalog.shipped_datasets() + [dataset_public(row) for row in uploads])


@router.get("/{dataset_id}", response_model=Dataset, responses=error_responses(404))
def read_dataset(dataset_id: str, session: SessionDep, caller: CallerDep) -> Dataset:
    shipped = next((d for d in catalog.shipped_datasets() if d.id == dataset_id), None)
    if shipped is not None:
        return shipped
    row = dataset_store.get_dataset(session=session, dataset_id=dataset_id, principal_id=caller.scope)
    if row is None:
        raise not_found("dataset", dataset_id)
    return dataset_public(row)


def check_uploaded_dataset(*, session: SessionDep, caller: Caller, spec: JobSpec) -> DataShape | None:
    """A job may train on an uploaded dataset the caller can see, with a loss for its task; returns its shape."""
    name = spec.dataset.name
    if not UPLOADED_DATASET_ID.match(name):
        return None
    row = dataset_store.get_dataset(session=session, dataset_id=name, principal_id=caller.scope)
    if row is None:
        raise _invalid_field("dataset.name", f"uploaded dataset {name!r} not found; upload it with POST /v1/datasets")
    allowed = CLASSIFICATION_LOSSES if row.task == "classification" else REGRESSION_LOSSES
    if spec.loss is not None and spec.loss not in allowed:
        raise _invalid_field(
            "loss", f"{spec.loss!r} does not apply to {row.task} dataset {name!r}; allowed: {', '.join(allowed)}"
        )
    if spec.model.kind == "cnn":
        raise _invalid_field(
            "model.kind", f"'cnn' needs image-shaped data; uploaded dataset {name!r} is a table: use 'mlp'"
        )
    outputs = len(row.classes or []) if row.task == "classification" else 1
    return DataShape(features=len(row.columns), outputs=outputs)
