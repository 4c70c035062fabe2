"""/v1/datasets: upload a CSV, Parquet or NPZ file; list the shipped and your uploaded datasets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile  # what request.form() yields (fastapi's is a subclass)

from api.deps import CallerDep, OwnDatasetDep, SessionDep, SettingsDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, ApiError, error_responses
from api.services import datasets
from api.services.datasets import MAX_TEXT_FIELD_CHARS, TASKS
from api.services.errors import InvalidField
from trainwell.dataset import Dataset, DatasetList

router = APIRouter(
    prefix="/v1/datasets",
    tags=["datasets"],
    responses=AUTHENTICATED,
    dependencies=[Depends(refuse_malformed_parameters)],
)

FIELDS = {"file", "target", "task", "name"}
MAX_TEXT_FIELD_BYTES = 1024
# A re-upload of stored content keeps the stored dataset's name: an upload is no rename, and the name
# a job was launched on stays the one its listing shows. The 200 says so when the form asked for another.
NAME_KEPT = "Dataset-Name-Kept"
EXAMPLE_TABLE = "x1,x2,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40))
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
                    "additionalProperties": False,
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": ".csv, .parquet or .npz"},
                        "target": {
                            "type": "string",
                            "maxLength": MAX_TEXT_FIELD_CHARS,
                            "description": "the target column (CSV, Parquet; required) or array (NPZ; default y)",
                            "examples": ["label"],
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
                            "description": "default: the file name; a re-upload of the same content keeps "
                            f"the stored name (the 200 then carries `{NAME_KEPT}: true`)",
                            "examples": ["my-table"],
                        },
                    },
                },
                "encoding": {"file": {"contentType": "text/csv, application/vnd.apache.parquet, application/x-npz"}},
                "examples": {
                    "csv": {
                        "summary": "a CSV table, label in its last column",
                        "value": {"file": EXAMPLE_TABLE, "target": "label", "name": "my-table"},
                    }
                },
            }
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Dataset,
    openapi_extra=UPLOAD_FORM,
    responses={
        200: {
            "model": Dataset,
            "description": "you had uploaded this content already: the stored dataset, its name kept",
            "headers": {
                NAME_KEPT: {"description": "`true`: the form named it otherwise", "schema": {"type": "string"}}
            },
        },
        **error_responses(400, 413, 415),
    },
)
async def create_dataset(
    request: Request, session: SessionDep, caller: CallerDep, settings: SettingsDep, response: Response
) -> Dataset:
    """Upload a dataset as multipart form data: `file` (CSV with a header row, Parquet, or NPZ with
    arrays X and y), `target`, and optionally `task` and `name`. The id is the hash of the
    normalized content: uploading the same table again answers 200 with the same dataset, under the
    name it was stored with."""
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
            raise InvalidField(unknown[0], f"unknown form field; expected: {', '.join(sorted(FIELDS))}")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidField("file", "required: the dataset file as a multipart file part")
        fields = {key: value for key in ("target", "task", "name") if isinstance(value := form.get(key), str)}
        stored = await run_in_threadpool(
            datasets.store_upload,
            session=session,
            caller=caller,
            settings=settings,
            file=upload.file,
            filename=upload.filename,
            content_type=upload.content_type,
            fields=fields,
        )
    if not stored.created:
        response.status_code = status.HTTP_200_OK
        if fields.get("name") and fields["name"] != stored.dataset.name:
            response.headers[NAME_KEPT] = "true"
    return stored.dataset


@router.get("", response_model=DatasetList)
def read_datasets(session: SessionDep, caller: CallerDep) -> DatasetList:
    """The built-in and synthetic datasets, then your uploads, newest first."""
    return datasets.read_datasets(session=session, caller=caller)


@router.get("/{dataset_id}", response_model=Dataset, responses=error_responses(404))
async def read_dataset(dataset: OwnDatasetDep) -> Dataset:
    return dataset
