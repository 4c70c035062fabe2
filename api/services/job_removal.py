"""Deleting a job: its rows and its probes' (store/job_removal.py), then their checkpoint directories
(checkpoints, kept model file, exports, predictions' inputs and results). A running job is not waited for: its row is gone, so its next
heartbeat finds its attempt superseded and it stops, writing nothing more to the database; a checkpoint
it writes meanwhile is an orphan directory, which the reaper removes (worker/reaper.py).

Refused with 409 for the rows other records depend on: a sweep's trial (the sweep's table is made of its
trials, and a trial without its job reads as not yet released) and a probe (its parent's verdict waits
for it): delete the parent job, or let the sweep end.
"""

from __future__ import annotations

import shutil

from sqlalchemy.orm import Session

from api.services.errors import Conflict
from core.settings import Settings
from store import job_removal, models
from trainwell.job import JobOrigin


def delete_job(*, session: Session, settings: Settings, job: models.Job) -> None:
    if job.sweep_id is not None:
        raise Conflict(
            "job_in_sweep",
            f"job {job.id!r} is a trial of sweep {job.sweep_id!r}, whose comparison is made of its trials",
        )
    if job.origin == JobOrigin.probe.value:
        raise Conflict(
            "job_is_probe",
            f"job {job.id!r} is a probe that settles the verdict of job {job.parent_id!r}; delete that job instead",
        )
    doomed = job_removal.with_probes(session=session, job_id=job.id)
    job_removal.delete_jobs(session=session, job_ids=doomed)
    session.commit()
    for job_id in doomed:  # after the commit: a failed transaction leaves the files of rows that still exist
        shutil.rmtree(settings.checkpoint_dir / job_id, ignore_errors=True)
