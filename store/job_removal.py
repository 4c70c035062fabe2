"""Removing jobs: their rows, and with them (the foreign keys' ON DELETE CASCADE) their metric history,
latest values, rollups, diagnosis, landscape, model exports and predictions. A removed job's remedy jobs stay, their
`parent_id` set to NULL by the same keys; its probes go with it (they exist only to settle its verdict)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.models import Job
from trainwell.job import JobOrigin


def with_probes(*, session: Session, job_id: str) -> list[str]:
    """The job and its probe jobs (walked down, though probes never probe themselves), the job first."""
    found, frontier = [job_id], [job_id]
    while frontier:
        frontier = list(
            session.scalars(select(Job.id).where(Job.parent_id.in_(frontier), Job.origin == JobOrigin.probe.value))
        )
        found += frontier
    return found


def delete_jobs(*, session: Session, job_ids: Iterable[str]) -> None:
    session.execute(delete(Job).where(Job.id.in_(list(job_ids))))


def missing_jobs(*, session: Session, job_ids: Iterable[str]) -> set[str]:
    """Those of `job_ids` that name no job (any more)."""
    wanted = set(job_ids)
    if not wanted:
        return set()
    return wanted - set(session.scalars(select(Job.id).where(Job.id.in_(wanted))))
