"""Probe jobs in the database: create them with the diagnosis that waits for them, and read how they did.

A diagnosis in `running_probes` lists its probes with their job ids; the probe jobs are ordinary jobs
with `origin: probe` and the original as parent. Whoever finishes last (the worker of the last probe, or
the reaper's sweep for probes cancelled or lost) settles the verdict, holding the diagnosis row locked so
two settlers never interleave.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.broker import queue_for
from store.diagnoses import save_diagnosis
from store.jobs import create_job
from store.models import Job, JobDiagnosis
from trainwell.diagnosis import Diagnosis, DiagnosisStatus, Probe
from trainwell.job import JobOrigin, JobStatus
from trainwell.spec import JobSpec


def create_probe_jobs(
    *, session: Session, parent: Job, diagnosis: Diagnosis, specs: Sequence[JobSpec]
) -> list[tuple[str, str]]:
    """Insert one queued job per planned probe and store the diagnosis with their ids (one transaction).

    Returns (job id, queue) per probe, to enqueue after the commit. Probes are the service's own jobs
    on the user's behalf: the caller checks probe_room first (they count against the principal's active
    jobs), and their plan respects the model-size limit.
    """
    created = []
    for probe, spec in zip(diagnosis.probes, specs, strict=True):
        job = create_job(
            session=session,
            principal_id=parent.principal_id,
            spec=spec,
            queue=queue_for(spec.device),
            origin=JobOrigin.probe,
            parent_id=parent.id,
        )
        probe.job_id, probe.status = job.id, job.status
        created.append((job.id, job.queue))
    save_diagnosis(session=session, job_id=parent.id, diagnosis=diagnosis)
    return created


# Probes of one principal queued or running at once: a burst of badly fitting jobs (a 300-job soak
# planned 600) waits for a few to settle instead of doubling the principal's queue.
MAX_PROBES_IN_FLIGHT = 4
ACTIVE = (JobStatus.queued.value, JobStatus.running.value, JobStatus.cancelling.value)


def probe_room(*, session: Session, principal_id: int, max_active: int) -> int:
    """How many more probe jobs the principal may have now: probes count against its active jobs (the
    submission quota), and at most MAX_PROBES_IN_FLIGHT of them are active at once."""
    mine_active = (Job.principal_id == principal_id, Job.status.in_(ACTIVE))
    bounded = select(Job.origin).where(*mine_active).limit(max_active).subquery()  # a bounded count, as quotas
    active, probes = session.execute(
        select(func.count(), func.count().filter(bounded.c.origin == JobOrigin.probe.value)).select_from(bounded)
    ).one()
    return max(0, min(max_active - active, MAX_PROBES_IN_FLIGHT - probes))


def refreshed_probes(*, session: Session, probes: Sequence[Probe]) -> list[Probe]:
    """The probes with their jobs' current status and losses (a probe whose job is gone counts as failed)."""
    ids = [p.job_id for p in probes if p.job_id is not None]
    query = select(Job.id, Job.status, Job.summary).where(Job.id.in_(ids))
    rows = {job_id: (status, summary) for job_id, status, summary in session.execute(query)} if ids else {}
    return [p.with_outcome(*rows.get(p.job_id or "", ("failed", None))) for p in probes]


def lock_probing_diagnosis(*, session: Session, job_id: str) -> Diagnosis | None:
    """The job's diagnosis if it waits for probes, its row locked until the transaction ends."""
    body = session.scalar(
        select(JobDiagnosis.body)
        .where(JobDiagnosis.job_id == job_id, JobDiagnosis.status == DiagnosisStatus.running_probes.value)
        .with_for_update()
    )
    return Diagnosis.model_validate(body) if body is not None else None


def settleable_jobs(*, session: Session) -> list[str]:
    """Jobs whose diagnosis waits for probes that have all ended: one query, whatever the backlog (the
    reaper runs it every few seconds). Probe jobs are inserted with the diagnosis that lists them, so a
    waiting diagnosis never lacks its children."""
    unfinished = (
        select(Job.id)
        .where(
            Job.parent_id == JobDiagnosis.job_id,
            Job.origin == JobOrigin.probe.value,
            Job.status.in_([JobStatus.queued.value, JobStatus.running.value, JobStatus.cancelling.value]),
        )
        .exists()
    )
    query = select(JobDiagnosis.job_id).where(JobDiagnosis.status == DiagnosisStatus.running_probes.value, ~unfinished)
    return list(session.scalars(query))
