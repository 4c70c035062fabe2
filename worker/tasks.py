"""The training task. It takes a job id, never an ORM object, and opens its own sessions.

Each job runs in a fresh process (worker/job_process.py). Importing the trainer here
(and so torch) in the worker's parent process means each forked process starts warm
(importing torch takes 1.4–1.7 s); no process but the job's own initialises CUDA, so
the forks are safe. torch.optim imports torch._dynamo lazily on the first optimizer
step, another 1.4 s of every job, so the parent imports it too. Likewise the database:
each job's process makes its own engine (never its parent's sockets), but the driver
and dialect are imported, and the ORM's mappers configured, once here — in each job's
process they would add ~100 ms to a job's start, a large part of submit → running.

Every job that ends gets a final diagnosis: a verdict, or `not_applicable` saying why it has none. It is
made after the job's process has given the worker's slot back (worker/job_process.py run_detachable), so
a queue's next job does not wait for it; the worker thus runs up to its concurrency of trainings, plus the
diagnoses of the jobs that just ended.
"""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch._dynamo  # noqa: F401  (see the module docstring)
from celery import Task
from celery.signals import worker_process_shutdown
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, configure_mappers

from core.broker import TRAIN_TASK, enqueue_training
from core.events import publish_job_changed
from core.settings import get_settings
from store import jobs as job_store
from store.db import get_engine, session_scope
from store.diagnoses import save_diagnosis
from store.stale_jobs import Delivery, delivery
from store.stored_bytes import record_checkpoint_bytes
from store.sweep_rungs import trial_rungs
from trainer import DatasetError, FitResult, fit
from trainer.checkpoint import prune_checkpoints
from trainer.diagnose import not_applicable
from trainwell.job import FailureReason, JobOrigin, JobStatus
from trainwell.spec import JobSpec
from worker.celery_app import app
from worker.diagnosis import diagnose_and_store, diagnosis_lease, store_diagnosis
from worker.disk_usage import checkpoint_bytes
from worker.job_process import JobTerminated, run_detachable, wait_for_detached
from worker.logs import job_context
from worker.model_files import save_model_file
from worker.probes import settle_probes
from worker.reporter import JobReporter, MetricsUnwritten, Superseded
from worker.retry import with_database_retry
from worker.sweeps import advance as advance_sweep

log = logging.getLogger(__name__)
get_engine()  # loads the database driver and dialect here, once (see the module docstring)
configure_mappers()  # and sets up the ORM's mappers, which each job's process would otherwise redo


# Told to stop (no time is left to diagnose), or nothing was trained: the final status is stored with a
# not_applicable diagnosis naming the failure, in one transaction, so no reader ever waits for another.
UNDIAGNOSABLE = frozenset({FailureReason.terminated, FailureReason.dataset})


@dataclass(frozen=True)
class JobOutcome:
    """How a job's training ended: its final status, and what the row stores with it."""

    status: JobStatus
    summary: dict[str, Any] | None = None
    reason: FailureReason | None = None  # set when the job failed
    message: str | None = None  # one line for people
    traceback: str | None = None  # an exception's, stored apart from the message

    @property
    def diagnosable(self) -> bool:
        return self.reason not in UNDIAGNOSABLE


# A probe delivered while its principal's own jobs wait on its queue goes to the back of the queue, behind
# them; the pause keeps a worker whose only messages are such probes from spinning on them.
PROBE_YIELD_SECONDS = 0.2


@app.task(name=TRAIN_TASK, bind=True)
def train(self: Task, job_id: str) -> None:
    worker = self.request.hostname or socket.gethostname()
    found = _delivery(job_id)
    if found is not None and not found.queued:
        # a copy of a message already trained (or a job cancelled while queued): no fork for it
        log.info("job %s: not queued any more; dropped before forking", job_id)
        return
    if found is not None and found.waits_for_own_jobs:
        time.sleep(PROBE_YIELD_SECONDS)
        enqueue_training(job_id, found.queue)  # this message is acked when the task returns: one copy stays
        log.info("job %s: a probe, queued again behind its principal's own jobs", job_id)
        return
    exit_code = run_detachable(lambda release: run_job(job_id, worker=worker, release=release))
    if exit_code != 0:
        # the row stays running; its heartbeat stops and the reaper requeues it
        log.error("job %s: its process exited with %d", job_id, exit_code)


@worker_process_shutdown.connect
def _finish_diagnoses(**_: Any) -> None:
    """A warm shutdown waits for the tasks it runs; the diagnoses their processes carry on with after
    releasing their slots are waited for here, in the pool child, before it exits (and takes them along)."""
    wait_for_detached()


def _delivery(job_id: str) -> Delivery | None:
    """What the message finds, read before forking; None when the database does not answer (the claim,
    in the job's process, then decides, with its retries)."""
    try:
        with session_scope() as session:
            return delivery(session=session, job_id=job_id)
    except SQLAlchemyError:
        return None


def run_job(job_id: str, *, worker: str, release: Callable[[], None] = lambda: None) -> None:
    """Claim and train the job, store its outcome, then `release()` the worker's slot and diagnose it:
    the diagnosis (seconds: its curvature) runs beside the next job rather than ahead of it."""
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
        sweep_id = job.sweep_id
        rungs = trial_rungs(session=session, job_id=job_id) if sweep_id is not None else None
    with job_context(job_id, attempt):
        log.info("training")
        reporter = JobReporter(
            job_id,
            attempt=attempt,
            heartbeat_seconds=settings.heartbeat_seconds,
            checkpoint_dir=settings.checkpoint_dir / job_id,
            rungs=rungs,
        )
        outcome, result = _train(job_id, attempt, spec, reporter)
        # the epochs trained so far are written with the final status, whatever the outcome
        final = None if reporter.superseded else _finish(job_id, attempt, outcome, reporter)
        if final is None:  # a newer attempt owns the job now: its outcome and diagnosis are not ours
            log.warning("superseded: stopped without a final status")
            return
        log.info("done: %s", final.value)
        # this attempt's final status is stored: it alone is resumable; what pruning frees is counted off
        if settings.keep_checkpoints == "final" and prune_checkpoints(settings.checkpoint_dir / job_id, keep=attempt):
            _record_checkpoint_bytes(job_id, attempt)
        if sweep_id is not None:  # its slot is free: the sweep's next trial can start on another worker now
            advance_sweep(sweep_id)
        if probe_of is not None:  # the original's verdict may have waited for this probe alone
            with_database_retry(lambda: settle_probes(probe_of), what=f"probe verdict of job {probe_of}")
        if not outcome.diagnosable:
            return
        with diagnosis_lease(job_id, settings):
            release()  # the worker's slot takes its next message now; this process goes on to diagnose
            try:
                diagnose_and_store(
                    job_id,
                    attempt,
                    spec,
                    result,
                    failure_reason=outcome.reason,
                    settings=settings,
                    may_probe=probe_of is None,
                )
            except Exception as exc:  # the job's own outcome is recorded; a diagnosis bug must not hide it
                log.exception("diagnosis failed")
                error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                # unless the diagnosis got as far as storing itself (its probe jobs created, say)
                store_diagnosis(job_id, attempt, not_applicable(f"the diagnosis failed ({error})"), keep_stored=True)
        if sweep_id is not None:  # a sweep ends once its last trial is diagnosed: its table reads the diagnoses
            advance_sweep(sweep_id)


def _record_checkpoint_bytes(job_id: str, attempt: int) -> None:
    """The job's checkpoint size once pruned (the final status's write measured it before)."""
    size = checkpoint_bytes(get_settings().checkpoint_dir / job_id)

    def write() -> None:
        with session_scope() as session:
            record_checkpoint_bytes(session=session, job_id=job_id, attempt=attempt, size=size)

    with_database_retry(write, what=f"checkpoint bytes of job {job_id}")


def _train(job_id: str, attempt: int, spec: JobSpec, reporter: JobReporter) -> tuple[JobOutcome, FitResult | None]:
    """Run the trainer; return how the job ended, and the fit's result."""
    settings = get_settings()
    try:
        # one checkpoint file per attempt (trainer/checkpoint.py): a superseded attempt cannot clobber ours
        result = fit(
            spec,
            reporter,
            checkpoint_dir=settings.checkpoint_dir / job_id,
            data_dir=settings.data_dir,
            attempt=attempt,
        )
    except JobTerminated:
        message = f"stopped by the {settings.max_job_seconds} s time limit or the worker's shutdown"
        return JobOutcome(JobStatus.failed, reason=FailureReason.terminated, message=message), None
    except DatasetError as exc:
        return JobOutcome(JobStatus.failed, reason=FailureReason.dataset, message=str(exc)), None
    except MetricsUnwritten as exc:
        return _metrics_unwritten(exc), None
    except Exception as exc:
        log.exception("job %s failed", job_id)
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        failed = JobOutcome(
            JobStatus.failed, reason=FailureReason.exception, message=message, traceback=traceback.format_exc()
        )
        return failed, None
    summary = result.summary()
    if result.status == "completed":
        try:  # before the final status: a succeeded job always has its model file
            save_model_file(job_id, spec, result)
        except Exception as exc:
            log.exception("job %s: its model file could not be written", job_id)
            message = f"the model file could not be written ({type(exc).__name__}: {exc})".splitlines()[0][:500]
            unsaved = JobOutcome(JobStatus.failed, summary, FailureReason.exception, message, traceback.format_exc())
            return unsaved, result
        return JobOutcome(JobStatus.succeeded, summary), result
    if result.status == "stopped":
        return JobOutcome(JobStatus.cancelled, summary), result
    return JobOutcome(JobStatus.failed, summary, FailureReason.diverged, result.message), result


def _finish(job_id: str, attempt: int, outcome: JobOutcome, reporter: JobReporter) -> JobStatus | None:
    """Store the buffered metrics and the final status in one transaction (an undiagnosable outcome's
    diagnosis too); returns the status stored, or None when a newer attempt holds the job.

    A database that stays down through every retry raises: the job's process exits 1, the row stays
    running, and the reaper requeues it; the next attempt re-sends the rows from the checkpoint. Rows the
    database refuses for good fail the job (reason metrics_unwritten), never leaving it `succeeded`."""
    final: JobStatus | None
    try:
        final = reporter.finish(lambda session: _write_final(session, job_id, attempt, outcome))
    except Superseded:
        return None
    except MetricsUnwritten as exc:
        outcome = _metrics_unwritten(exc, outcome.summary)
        final = with_database_retry(
            lambda: _write_final_alone(job_id, attempt, outcome), what=f"final status of job {job_id}"
        )
    publish_job_changed(job_id, "status")  # live streams end with the final status at once
    return final


def _write_final(session: Session, job_id: str, attempt: int, outcome: JobOutcome) -> JobStatus:
    final = job_store.finish_job(
        session=session,
        job_id=job_id,
        attempt=attempt,
        status=outcome.status,
        summary=outcome.summary,
        error_reason=outcome.reason,
        error_message=outcome.message,
        error_traceback=outcome.traceback,
    )
    if final is None:
        raise Superseded(f"job {job_id}: attempt {attempt} no longer holds it")
    if not outcome.diagnosable:
        why = f"the job failed before it could be diagnosed ({outcome.reason}: {outcome.message})"
        save_diagnosis(session=session, job_id=job_id, diagnosis=not_applicable(why))
    return final


def _write_final_alone(job_id: str, attempt: int, outcome: JobOutcome) -> JobStatus | None:
    try:
        with session_scope() as session:
            return _write_final(session, job_id, attempt, outcome)
    except Superseded:
        return None


def _metrics_unwritten(exc: MetricsUnwritten, summary: dict[str, Any] | None = None) -> JobOutcome:
    log.error("job metrics refused by the database: %s", exc)
    message = f"the database refused the job's metrics ({exc})"
    return JobOutcome(JobStatus.failed, summary, FailureReason.metrics_unwritten, message, traceback.format_exc())
