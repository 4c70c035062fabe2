"""Cancelling a job: a queued one never starts, a running one stops at its next step."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.services.errors import Conflict
from api.services.jobs import job_public
from api.services.sweeps import release
from core.settings import get_settings
from store import jobs as job_store
from store import models
from store.diagnoses import save_diagnosis
from trainwell.diagnosis import Diagnosis, DiagnosisStatus
from trainwell.job import FINAL_STATUSES, Job, JobStatus

# A job cancelled while queued never reaches a worker to be diagnosed: its final diagnosis is stored
# with its final status (as trainer.diagnose.not_applicable words one; the API does not import the trainer).
NEVER_STARTED = Diagnosis(
    status=DiagnosisStatus.not_applicable, summary="No verdict: the job was cancelled before it started."
)


def cancel_job(*, session: Session, job: models.Job) -> Job:
    """Ask the job to stop; a job already final is a Conflict (there is nothing left to cancel)."""
    if JobStatus(job.status) in FINAL_STATUSES:
        raise Conflict("job_finished", f"job {job.id!r} already {job.status}")
    job_store.request_cancel(session=session, job=job)
    if job.status == JobStatus.cancelled.value:  # it was queued: cancelled at once, in this transaction
        save_diagnosis(session=session, job_id=job.id, diagnosis=NEVER_STARTED)
    session.commit()
    if job.sweep_id is not None and job.status == JobStatus.cancelled.value:  # its slot freed now
        release(session=session, sweep_id=job.sweep_id, settings=get_settings())
    return job_public(session=session, job=job)
