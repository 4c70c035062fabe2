"""Deleting an upload: refused while the caller's unfinished jobs train on it; else its row goes, and its
file with the last row that names the content (store/dataset_removal.py)."""

from __future__ import annotations

import contextlib

from sqlalchemy.orm import Session

from api.services.errors import Conflict
from api.services.ownership import own_dataset
from core.settings import Settings
from store import dataset_removal
from store.principals import Caller


def delete_dataset(*, session: Session, caller: Caller, settings: Settings, dataset_id: str) -> None:
    row = own_dataset(session=session, caller=caller, dataset_id=dataset_id)  # 404 for another principal's
    owner = row.principal_id
    using = dataset_removal.unfinished_jobs_on(session=session, principal_id=owner, dataset_id=dataset_id)
    if using:
        shown = ", ".join(using[:10]) + (f" and {len(using) - 10} more" if len(using) > 10 else "")
        raise Conflict(
            "dataset_in_use",
            f"dataset {dataset_id!r} is used by unfinished job(s) {shown}; cancel them or wait for them to end",
            details=[{"job_id": job_id} for job_id in using],
        )
    dataset_removal.delete_dataset_row(session=session, principal_id=owner, dataset_id=dataset_id)
    session.commit()
    if not dataset_removal.dataset_file_shared(session=session, dataset_id=dataset_id):
        with contextlib.suppress(FileNotFoundError):
            (settings.dataset_dir / f"{dataset_id}.npz").unlink()
