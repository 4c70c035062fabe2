"""The training task. It takes a job id, never an ORM object, and opens its own sessions.

Each job runs in a fresh process (worker/job_process.py). Importing the trainer here
(and so torch) in the worker's parent process means each forked process starts warm
(importing torch takes 1.4–1.7 s); no process but the job's own initialises CUDA, so
the forks are safe. torch.optim imports torch._dynamo lazily on the first optimizer
step, which cost 1.4 s of every job here, so the parent imports it too. Likewise the
database: each job's process makes its own engine (never its parent's sockets), but the
driver and dialect are imported, and the ORM's mappers configured, once here — done in
every job's process they took ~100 ms of its start (measured: submit → running median
120 ms → 35–40 ms in production mode).
"""

from __future__ import annotations

import logging
import socket
import traceback
from typing import Any

import torch._dynamo  # noqa: F401  (see the module docstring)
from celery import Task
from sqlalchemy.orm import configure_mappers

from core.broker import TRAIN_TASK
from core.events import publish_job_changed
from core.settings import get_settings
from store import jobs as job_store
from store.db import get_engine, session_scope
from trainer import DatasetError, FitResult, fit
from trainwell.job import JobOrigin, JobStatus
from trainwell.spec import JobSpec
from worker.celery_app import app
from worker.diagnosis import diagnose_and_store
from worker.job_process import JobTerminated, run_in_fresh_process
from worker.logs import job_context
from worker.probes import settle_probes
from worker.reporter import JobReporter
from worker.retry import with_database_retry

log = logging.getLogger(__name__)
get_engine()  # loads the database driver and dialect here, once (see the module docstring)
configure_mappers()  # and sets up the ORM's mappers, which each job's process would otherwise redo


@app.task(name=TRAIN_TASK, bind=True)
def train(self: Task, job_id: str) -> None:
    worker = self.request.hostname or socket.gethostname()
    exit_code = run_in_fresh_process(lambda: run_job(job_id, worker=worker))
    if exit_code != 0:
        # the row stays running; its heartbeat stops and the reaper requeues it
        log.error("job %s: its process exited with %d", job_id, exit_code)


def run_job(job_id: str, *, worker: str) -> None:
    settings = get_settings()
    with session_scope() as session:
        if not job_store.claim_job(session=session, job_id=job_id, worker=worker):
            # a redelivered message, or the job was cancelled while queued
            log.info("job %s: not queued any more, nothing to do", job_id)
            return
        job = job_store.get_job(session=session, job_id=job_id, principal_id=None)
        assert job is not None
        spec = JobSpec.model_validate(job.spec)
        attempt = job.attempt
        probe_of = job.parent_id if job.origin == JobOrigin.probe.value else None
    with job_context(job_id, attempt):
        log.info("training")
        reporter = JobReporter(job_id, heartbeat_seconds=settings.heartbeat_seconds)
        outcome, result = _train(job_id, spec, reporter)
        reporter.flush()  # the epochs trained so far are kept whatever the outcome
        _finish(job_id, **outcome)
        log.info("done: %s", outcome["status"].value)
        if probe_of is not None:  # the original's verdict may have waited for this probe alone
            with_database_retry(lambda: settle_probes(probe_of), what=f"probe verdict of job {probe_of}")
        if outcome.get("reason") in {"terminated", "dataset"}:
            return  # told to stop, or nothing was trained: no diagnosis to make
        try:
            diagnose_and_store(
                job_id,
                spec,
                result,
                failure_reason=outcome.get("reason"),
                settings=settings,
                may_probe=probe_of is None,
            )
        except Exception:  # the job's own outcome is recorded; a diagnosis bug must not hide it
            log.exception("diagnosis failed")


def _train(job_id: str, spec: JobSpec, reporter: JobReporter) -> tuple[dict[str, Any], FitResult | None]:
    """Run the trainer; return the arguments of the job's final status, and the fit's result."""
    settings = get_settings()
    try:
        result = fit(spec, reporter, checkpoint_dir=settings.checkpoint_dir / job_id, data_dir=settings.data_dir)
    except JobTerminated:
        message = f"stopped by the {settings.max_job_seconds} s time limit or the worker's shutdown"
        return {"status": JobStatus.failed, "reason": "terminated", "message": message}, None
    except DatasetError as exc:
        return {"status": JobStatus.failed, "reason": "dataset", "message": str(exc)}, None
    except Exception as exc:
        log.exception("job %s failed", job_id)
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        failed = {"status": JobStatus.failed, "reason": "exception", "message": message, "tb": traceback.format_exc()}
        return failed, None
    summary = result.summary()
    if result.status == "completed":
        return {"status": JobStatus.succeeded, "summary": summary}, result
    if result.status == "stopped":
        return {"status": JobStatus.cancelled, "summary": summary}, result
    return {"status": JobStatus.failed, "summary": summary, "reason": "diverged", "message": result.message}, result


def _finish(
    job_id: str,
    status: JobStatus,
    *,
    summary: dict[str, Any] | None = None,
    reason: str | None = None,
    message: str | None = None,
    tb: str | None = None,
) -> None:
    def write() -> None:
        with session_scope() as session:
            job_store.finish_job(
                session=session,
                job_id=job_id,
                status=status,
                summary=summary,
                error_reason=reason,
                error_message=message,
                error_traceback=tb,
            )

    with_database_retry(write, what=f"final status of job {job_id}")
    publish_job_changed(job_id, "status")  # live streams end with the final status at once
