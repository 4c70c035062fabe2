"""The caller's own rows by id: a job or an uploaded dataset, or NotFound.

One lookup for every use case that starts from an id in the path, so a missing row and another
principal's row answer the same 404 everywhere. Admins (scope None) own every row.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.services.errors import NotFound
from store import datasets as dataset_store
from store import jobs as job_store
from store import models
from store.principals import Caller


def own_job(*, session: Session, caller: Caller, job_id: str) -> models.Job:
    job = job_store.get_job(session=session, job_id=job_id, principal_id=caller.scope)
    if job is None:
        raise NotFound("job", job_id)
    return job


def own_dataset(*, session: Session, caller: Caller, dataset_id: str) -> models.Dataset:
    """An uploaded dataset of the caller's (shipped datasets are not rows: see services/datasets.py)."""
    row = dataset_store.get_dataset(session=session, dataset_id=dataset_id, principal_id=caller.scope)
    if row is None:
        raise NotFound("dataset", dataset_id)
    return row
