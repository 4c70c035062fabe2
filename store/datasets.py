"""Uploaded-dataset queries. A principal sees only its own rows; admins (principal_id None) see all."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Dataset, utcnow
from uploads import NormalizedDataset


def create_dataset(
    *, session: Session, principal_id: int, dataset: NormalizedDataset, name: str | None, fmt: str, size: int
) -> Dataset:
    row = Dataset(
        principal_id=principal_id,
        id=dataset.id,
        name=name,
        format=fmt,
        task=dataset.task,
        target=dataset.target,
        rows=dataset.rows,
        columns=dataset.columns,
        classes=dataset.classes,
        bytes=size,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def get_dataset(*, session: Session, dataset_id: str, principal_id: int | None) -> Dataset | None:
    """The dataset, or None when it does not exist or belongs to someone else."""
    query = select(Dataset).where(Dataset.id == dataset_id)
    if principal_id is not None:
        query = query.where(Dataset.principal_id == principal_id)
    return session.scalars(query.order_by(Dataset.created_at).limit(1)).first()


def list_datasets(*, session: Session, principal_id: int | None) -> list[Dataset]:
    """Newest first."""
    query = select(Dataset)
    if principal_id is not None:
        query = query.where(Dataset.principal_id == principal_id)
    return list(session.scalars(query.order_by(Dataset.created_at.desc(), Dataset.id)))
