"""Removing an uploaded dataset: the jobs that still need it, its row, and whether its file is shared.

An upload's id is its content's hash (uploads/normalize.py), so two principals who upload the same table
have two rows and one file: the file goes with the last row.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.models import Dataset, Job
from trainwell.job import FINAL_STATUSES, JobStatus

UNFINISHED = [status.value for status in JobStatus if status not in FINAL_STATUSES]


def unfinished_jobs_on(*, session: Session, principal_id: int, dataset_id: str) -> list[str]:
    """The principal's queued, running or cancelling jobs that train on the dataset, oldest first."""
    rows = session.execute(
        select(Job.id, Job.spec)
        .where(Job.principal_id == principal_id, Job.status.in_(UNFINISHED))
        .order_by(Job.created_at, Job.id)
    )
    return [job_id for job_id, spec in rows if spec.get("dataset", {}).get("name") == dataset_id]


def delete_dataset_row(*, session: Session, principal_id: int, dataset_id: str) -> bool:
    result = session.execute(delete(Dataset).where(Dataset.principal_id == principal_id, Dataset.id == dataset_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def dataset_file_shared(*, session: Session, dataset_id: str) -> bool:
    """True while another principal's row names the same content."""
    return session.scalars(select(Dataset.id).where(Dataset.id == dataset_id).limit(1)).first() is not None
