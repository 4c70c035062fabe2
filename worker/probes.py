"""Probe jobs: launch them for a diagnosis that asks for them, and settle the verdict when they end.

Nothing waits: the original job's process stores a provisional diagnosis (`running_probes`), queues the
probes and exits, so a worker with one slot never blocks on its own children. When a probe ends, its
own process settles the original's diagnosis; the reaper's sweep settles the ones whose probes ended
without running (cancelled while queued, lost for good), so no diagnosis waits forever.
"""

from __future__ import annotations

import logging

from core.broker import enqueue_training
from core.events import publish_job_changed
from core.settings import get_settings
from store import jobs as job_store
from store.db import session_scope
from store.diagnoses import save_diagnosis
from store.probes import (
    create_probe_jobs,
    lock_probing_diagnosis,
    probe_room,
    refreshed_probes,
    settleable_jobs,
)
from trainer.diagnose.probes import settle
from trainwell.diagnosis import Diagnosis, patched_spec
from trainwell.spec import JobSpec
from worker.retry import with_database_retry

log = logging.getLogger(__name__)


def launch_probes(job_id: str, spec: JobSpec, diagnosis: Diagnosis) -> None:
    """Create the planned probe jobs with the diagnosis that lists them, then queue them.

    Probes count against the principal's active jobs (store/probes.py probe_room): with no room for all
    of them, none is made and the provisional verdict is final, without the probes' evidence.
    """
    specs = [patched_spec(spec, probe.spec_patch) for probe in diagnosis.probes]
    max_active = get_settings().max_active_jobs

    def write() -> list[tuple[str, str]]:
        with session_scope() as session:
            parent = job_store.get_job(session=session, job_id=job_id, principal_id=None)
            assert parent is not None
            if probe_room(session=session, principal_id=parent.principal_id, max_active=max_active) < len(specs):
                save_diagnosis(session=session, job_id=job_id, diagnosis=without_probes(diagnosis))
                return []
            return create_probe_jobs(
                session=session, parent=parent, diagnosis=diagnosis.model_copy(deep=True), specs=specs
            )

    created = with_database_retry(write, what=f"probe jobs of job {job_id}")
    if not created:
        log.info("no room for probe jobs (the principal's active jobs or probes in flight): verdict without them")
        publish_job_changed(job_id, "diagnosis")
        return
    # sent after the commit, so the claim finds the rows; a lost send is re-sent by the reaper
    for probe_id, queue in created:
        enqueue_training(probe_id, queue)
    log.info("queued %d probe job(s): %s", len(created), ", ".join(probe_id for probe_id, _ in created))


def without_probes(diagnosis: Diagnosis) -> Diagnosis:
    """The provisional diagnosis made final with no probe run (none could be queued)."""
    settled = settle(diagnosis.model_copy(update={"probes": []}), [])
    note = " (no probe jobs were run: the principal had too many jobs or probes active)"
    return settled.model_copy(update={"summary": settled.summary + note})


def settle_probes(job_id: str) -> bool:
    """Update the job's probing diagnosis from its probe jobs; decide the verdict once they have all ended.

    Returns True when the verdict was settled. Idempotent, and safe to call from several processes: the
    diagnosis row is locked while it is read and rewritten.
    """
    with session_scope() as session:
        diagnosis = lock_probing_diagnosis(session=session, job_id=job_id)
        if diagnosis is None:
            return False  # settled already, or it never waited for probes
        probes = refreshed_probes(session=session, probes=diagnosis.probes)
        if not all(probe.finished for probe in probes):
            if probes != diagnosis.probes:
                save_diagnosis(
                    session=session, job_id=job_id, diagnosis=diagnosis.model_copy(update={"probes": probes})
                )
            return False
        settled = settle(diagnosis, probes)
        save_diagnosis(session=session, job_id=job_id, diagnosis=settled)
    log.info("job %s: probes finished; verdict %s", job_id, settled.verdict)
    publish_job_changed(job_id, "diagnosis")
    return True


def settle_all() -> None:
    """The reaper's sweep: settle every probing diagnosis whose probes have all ended."""
    with session_scope() as session:
        ready = settleable_jobs(session=session)
    for job_id in ready:
        settle_probes(job_id)
