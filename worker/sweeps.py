"""Sweeps on the worker's side: release a sweep's next trials when one of its trials ends, and, from the
reaper, every running sweep's, so a trial that ended without its worker (killed, cancelled while queued)
never strands the rest (store/sweeps.py holds the compare-and-set that makes both safe at once)."""

from __future__ import annotations

import logging

from core.settings import get_settings
from store import sweeps as sweep_store
from store.db import session_scope
from store.models import utcnow
from worker.retry import with_database_retry

log = logging.getLogger(__name__)

# running sweeps advanced per reaper round, oldest first; the rest are reached by the next rounds
SWEEPS_PER_ROUND = 50


def advance(sweep_id: str) -> int:
    """Release what the sweep has room for (or end it) and send the released trials; how many were released.

    A trial whose send fails (or whose sent mark is not written) stays queued and unmarked: the reaper
    sends it a lease later (store.sweeps.send_released)."""
    max_active = get_settings().max_active_jobs

    def release() -> list[sweep_store.Released]:
        with session_scope() as session:
            return sweep_store.advance(session=session, sweep_id=sweep_id, max_active_jobs=max_active, now=utcnow())

    released = with_database_retry(release, what=f"release of sweep {sweep_id}")
    try:
        with session_scope() as session:
            sweep_store.send_released(session=session, released=released)
    except Exception:  # the broker or the database is down: the reaper sends what is unmarked
        log.exception("sweep %s: sending its released trials failed", sweep_id)
    for trial in released:
        log.info("sweep %s: released trial job %s", sweep_id, trial.job_id)
    return len(released)


def advance_all() -> None:
    """The reaper's round: every running sweep released or ended."""
    with session_scope() as session:
        running = sweep_store.running_sweeps(session=session, limit=SWEEPS_PER_ROUND)
    for sweep_id in running:
        advance(sweep_id)
