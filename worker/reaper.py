"""The reaper loop: a thread in every worker's main process (never in a pool child).

Jobs whose heartbeat went stale are requeued (resuming from their last checkpoint)
or failed after max_attempts; queued jobs whose message may have been lost (a Redis
restart without persistence) are sent again; diagnoses whose probe jobs all ended are settled. Running in every worker is safe: each
action is a compare-and-set on the row.
"""

from __future__ import annotations

import logging
import threading

from core.broker import enqueue_training
from core.settings import Settings
from store.db import session_scope
from store.models import utcnow
from store.reaper import reap
from worker.probes import settle_all

log = logging.getLogger(__name__)


def reap_once(settings: Settings) -> None:
    with session_scope() as session:
        report = reap(
            session=session,
            now=utcnow(),
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            requeue_after_seconds=settings.requeue_after_seconds,
        )
    # sent after the commit: the claim must find the row queued
    for item in report.requeued + report.resent:
        enqueue_training(item.job_id, item.queue)
    for item in report.requeued:
        log.warning("job %s: worker lost (heartbeat older than %.0fs); requeued", item.job_id, settings.lease_seconds)
    for item in report.resent:
        log.warning("job %s: still queued after %.0fs; message sent again", item.job_id, settings.requeue_after_seconds)
    for job_id in report.failed:
        log.error("job %s: worker lost on every attempt; failed", job_id)
    for job_id in report.cancelled:
        log.warning("job %s: worker lost while cancelling; cancelled", job_id)
    settle_all()  # verdicts whose probes ended without a worker to settle them (cancelled, lost)


def start_reaper(settings: Settings) -> threading.Thread:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(settings.reaper_interval_seconds):
            try:
                reap_once(settings)
            except Exception:  # the database or broker is down: try again next round
                log.exception("reaper round failed")

    thread = threading.Thread(target=loop, name="trainwell-reaper", daemon=True)
    thread.start()
    return thread
