"""Datasets: storing an upload, listing the shipped and the caller's uploaded ones, and checking
that a job may train on an uploaded one.

An uploaded dataset's id is the hash of its normalized content, so uploading the same table again
finds the dataset already stored instead of making a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.services.errors import InvalidField
from api.services.ownership import own_dataset
from api.services.storable import refuse_nul
from api.services.usage import refuse_upload_past_stored_bytes
from core.settings import Settings
from store import datasets as dataset_store
from store import models
from store.principals import Caller
from trainwell.catalog import SHIPPED_DATASETS, incompatibility
from trainwell.dataset import Dataset, DatasetKind, DatasetList
from trainwell.model_size import DataShape
from trainwell.spec import UPLOADED_DATASET_ID, JobSpec, Task
from uploads import UploadError, UploadLimits, detect_format, normalize, read_table, write_dataset

TASKS: tuple[Task, ...] = ("classification", "regression")
MAX_TEXT_FIELD_CHARS = 200  # the name and target columns' width


@dataclass(frozen=True)
class StoredDataset:
    dataset: Dataset
    created: bool  # False: the caller had uploaded this content already


def shipped_datasets() -> list[Dataset]:
    """The datasets every principal can use without uploading, from the one table in trainwell.catalog."""
    return [
        Dataset(
            id=d.name,
            name=d.name,
            kind=DatasetKind(d.source),
            task=d.task,
            rows=d.rows,
            n_features=d.features,
            n_classes=d.classes or None,
        )
        for d in SHIPPED_DATASETS.values()
    ]


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


def read_datasets(*, session: Session, caller: Caller) -> DatasetList:
    """The built-in and synthetic datasets, then the caller's uploads, newest first."""
    uploads = dataset_store.list_datasets(session=session, principal_id=caller.scope)
    return DatasetList(data=shipped_datasets() + [dataset_public(row) for row in uploads])


def read_dataset(*, session: Session, caller: Caller, dataset_id: str) -> Dataset:
    """A shipped dataset by name, else one the caller uploaded; NotFound otherwise."""
    shipped = next((d for d in shipped_datasets() if d.id == dataset_id), None)
    if shipped is not None:
        return shipped
    return dataset_public(own_dataset(session=session, caller=caller, dataset_id=dataset_id))


def store_upload(
    *,
    session: Session,
    caller: Caller,
    settings: Settings,
    file: BinaryIO,
    filename: str | None,
    content_type: str | None,
    fields: dict[str, str],
) -> StoredDataset:
    """Read, check, normalize and store an uploaded file; `fields` are the form's target, task and name.

    A refused file raises the UploadError that names its problem, written nowhere.
    """
    for key, value in fields.items():
        refuse_nul(value, key)
        if len(value) > MAX_TEXT_FIELD_CHARS:
            raise InvalidField(key, f"at most {MAX_TEXT_FIELD_CHARS} characters, got {len(value)}")
    task = fields.get("task") or None
    if task is not None and task not in TASKS:
        raise InvalidField("task", f"{task!r} is not one of {', '.join(TASKS)}")
    name = fields.get("name") or _display_name(filename)
    limits = UploadLimits(settings.max_dataset_bytes, settings.max_dataset_rows, settings.max_dataset_columns)
    fmt = detect_format(filename, content_type)
    target = fields.get("target") or ("y" if fmt == "npz" else "")
    if not target:
        raise UploadError(422, "invalid_request", "target: required; name the target column of the file")
    dataset = normalize(read_table(file, fmt=fmt, target=target, limits=limits), cast(Task | None, task))
    existing = dataset_store.get_dataset(session=session, dataset_id=dataset.id, principal_id=caller.principal_id)
    if existing is not None:
        return StoredDataset(dataset_public(existing), created=False)
    # the file's arrays, less its few hundred bytes of headers: refused before anything is written
    refuse_upload_past_stored_bytes(
        session=session, caller=caller, settings=settings, size=dataset.X.nbytes + dataset.y.nbytes
    )
    size = write_dataset(dataset, settings.dataset_dir)
    try:
        row = dataset_store.create_dataset(
            session=session, principal_id=caller.principal_id, dataset=dataset, name=name, fmt=fmt, size=size
        )
        session.commit()
    except IntegrityError:  # the same upload, concurrently: the other request's row stands
        session.rollback()
        winner = dataset_store.get_dataset(session=session, dataset_id=dataset.id, principal_id=caller.principal_id)
        if winner is None:
            raise
        return StoredDataset(dataset_public(winner), created=False)
    return StoredDataset(dataset_public(row), created=True)


def _display_name(filename: str | None) -> str | None:
    """The client's file name, for people only: it never becomes a path (the id does)."""
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:MAX_TEXT_FIELD_CHARS] or None


def uploaded_shape(*, session: Session, caller: Caller, spec: JobSpec) -> DataShape | None:
    """The shape of the uploaded dataset a job names, once it is the caller's and fits the spec; None
    when the spec names no uploaded dataset. The task is known only here, so the loss ↔ task and
    cnn ↔ images check runs here, through the same trainwell.catalog.incompatibility as the spec's."""
    name = spec.dataset.name
    if not UPLOADED_DATASET_ID.match(name):
        return None
    row = dataset_store.get_dataset(session=session, dataset_id=name, principal_id=caller.scope)
    if row is None:
        raise InvalidField("dataset.name", f"uploaded dataset {name!r} not found; upload it with POST /v1/datasets")
    task = cast(Task, row.task)
    refused = incompatibility(dataset=name, task=task, images=False, loss=spec.loss, model_kind=spec.model.kind)
    if refused is None:  # the rows of an upload are known here alone, like its task
        refused = spec.dataset.split_problem(row.rows, len(row.classes or []))
    if refused is not None:
        raise InvalidField(refused.field, refused.message)
    outputs = len(row.classes or []) if task == "classification" else 1
    return DataShape(features=len(row.columns), outputs=outputs)
