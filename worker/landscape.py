"""The landscape task: a finished job's loss landscape and its contour plot, computed on request.

Like a training job it runs in a fresh process (worker/job_process.py), on the queue of the job's
device: the landscape evaluates the model a few hundred times on that device. The weights are the
job's last checkpoint, which holds what the job ended with (the restored best weights under early
stopping; for k-fold, the last fold's); the initial weights are rebuilt from the spec's seed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import Task

from core.broker import LANDSCAPE_TASK
from core.events import publish_job_changed
from core.settings import get_settings
from store import jobs as job_store
from store.db import session_scope
from store.landscapes import claim_landscape, finish_landscape, get_landscape
from store.models import utcnow
from trainer import DatasetError
from trainer.checkpoint import load_checkpoint, newest_checkpoint
from trainer.diagnose.landscape import compute_landscape
from trainwell.landscape import Landscape, LandscapeStatus
from trainwell.spec import JobSpec
from worker.celery_app import app
from worker.job_process import run_in_fresh_process
from worker.landscape_plot import render_landscape_png
from worker.retry import with_database_retry

log = logging.getLogger(__name__)


@app.task(name=LANDSCAPE_TASK, bind=True)
def landscape(self: Task, job_id: str) -> None:
    exit_code = run_in_fresh_process(lambda: compute_and_store(job_id))
    if exit_code != 0:  # killed, or out of memory: say so rather than leave it running
        _store_failure(job_id, f"the landscape's process exited with code {exit_code}", requested_at=None)


def compute_and_store(job_id: str) -> None:
    settings = get_settings()
    with session_scope() as session:
        if not claim_landscape(session=session, job_id=job_id):
            return  # a redelivered message, or computed already
        job = job_store.get_job(session=session, job_id=job_id, principal_id=None)
        requested = get_landscape(session=session, job_id=job_id)
    if job is None or requested is None:
        return
    spec = JobSpec.model_validate(job.spec)
    # the job's own last attempt's weights (or the newest earlier attempt's, when it trained no epoch itself)
    path = newest_checkpoint(settings.checkpoint_dir / job_id, before=job.attempt + 1)
    checkpoint = load_checkpoint(path) if path is not None else None
    if checkpoint is None:
        _store_failure(job_id, "the job left no weights (it finished no epoch)", requested.requested_at)
        return
    try:
        computed = compute_landscape(spec, checkpoint["model"], data_dir=settings.data_dir, fold=checkpoint["fold"])
    except (ValueError, DatasetError) as error:
        _store_failure(job_id, str(error), requested.requested_at)
        return
    result = requested.model_copy(
        update={
            "status": LandscapeStatus.ready,
            "line": computed.line,
            "surface": computed.surface,
            "rows": computed.rows,
            "fold": checkpoint["fold"],
            "seconds": computed.seconds,
            "finished_at": utcnow(),
        }
    )
    png = render_landscape_png(result, title=spec.name or f"job {job_id}")
    _store(result, png)
    log.info("job %s: landscape on %d rows in %.2f s", job_id, computed.rows, computed.seconds)


def _store_failure(job_id: str, error: str, requested_at: datetime | None) -> None:
    log.warning("job %s: no landscape: %s", job_id, error)
    failed = Landscape(
        job_id=job_id, status=LandscapeStatus.failed, error=error, requested_at=requested_at, finished_at=utcnow()
    )
    _store(failed, None)


def _store(landscape: Landscape, png: bytes | None) -> None:
    def write() -> None:
        with session_scope() as session:
            finish_landscape(session=session, landscape=landscape, png=png)

    with_database_retry(write, what=f"landscape of job {landscape.job_id}")
    publish_job_changed(landscape.job_id, "landscape")
