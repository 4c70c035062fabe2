"""The `trainwell.diagnose` task: a finished job's diagnosis made again, when the process that made it
died (killed, out of memory) before storing it. The reaper sends it (worker/reaper.py), at most
max_attempts times. It also makes the first diagnosis of a run from the user's own loop, sent when the
run is finished (worker/run_diagnosis.py).

Like a job it runs in a fresh process (worker/job_process.py). The history is read back from the
database, as the first diagnosis reads it; the final weights lived only in the job's process, so the
checks that need them (the curvature, the test-gap error) are left out.
"""

from __future__ import annotations

import logging

from celery import Task

from core.broker import DIAGNOSE_TASK
from core.events import publish_job_changed
from core.settings import get_settings
from store import jobs as job_store
from store.db import session_scope
from store.lost_work import diagnosis_pending
from trainer.diagnose import not_applicable
from trainwell.job import FINAL_STATUSES, FailureReason, JobOrigin, JobStatus
from trainwell.spec import JobSpec
from worker.celery_app import app
from worker.diagnosis import diagnose_and_store, store_diagnosis
from worker.job_process import run_in_fresh_process
from worker.run_diagnosis import diagnose_external_run

log = logging.getLogger(__name__)


@app.task(name=DIAGNOSE_TASK, bind=True)
def diagnose_again(self: Task, job_id: str) -> None:
    exit_code = run_in_fresh_process(lambda: rediagnose(job_id))
    if exit_code != 0:  # its lease stops with this task: the reaper tries again, or ends it not_applicable
        log.error("job %s: the diagnosis's process exited with %d", job_id, exit_code)


def rediagnose(job_id: str) -> None:
    settings = get_settings()
    with session_scope() as session:
        job = job_store.get_job(session=session, job_id=job_id, principal_id=None)
        if job is None or JobStatus(job.status) not in FINAL_STATUSES:
            return
        if not diagnosis_pending(session=session, job_id=job_id):
            return  # a redelivered message, or the first diagnosis was stored after all
    try:
        if job.origin == JobOrigin.external.value:  # a run from the user's own loop: its first diagnosis
            diagnose_external_run(job)
        else:
            diagnose_and_store(
                job_id,
                job.attempt,
                JobSpec.model_validate(job.spec),
                None,
                failure_reason=FailureReason(job.error_reason) if job.error_reason else None,
                settings=settings,
                may_probe=job.origin != JobOrigin.probe.value,
            )
    except Exception as exc:  # a diagnosis that fails the same way again must not be retried for ever
        log.exception("job %s: diagnosis failed", job_id)
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        store_diagnosis(job_id, job.attempt, not_applicable(f"the diagnosis failed ({error})"))
    publish_job_changed(job_id, "diagnosis")
    log.info("job %s: diagnosed again", job_id)
