"""Stored diagnoses: one row per job, overwritten when recomputed (idempotent)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import JobDiagnosis, utcnow
from trainwell.diagnosis import Diagnosis


def save_diagnosis(*, session: Session, job_id: str, diagnosis: Diagnosis) -> None:
    row = session.get(JobDiagnosis, job_id)
    if row is None:
        row = JobDiagnosis(job_id=job_id)
        session.add(row)
    row.status = diagnosis.status.value
    row.verdict = diagnosis.verdict.value if diagnosis.verdict is not None else None
    row.body = diagnosis.model_dump(mode="json")
    row.updated_at = utcnow()


def get_diagnosis(*, session: Session, job_id: str) -> Diagnosis | None:
    body = session.scalar(select(JobDiagnosis.body).where(JobDiagnosis.job_id == job_id))
    return Diagnosis.model_validate(body) if body is not None else None


def verdicts(*, session: Session, job_ids: list[str]) -> dict[str, str]:
    """job id → verdict, for listing jobs with their badge without loading the bodies."""
    query = select(JobDiagnosis.job_id, JobDiagnosis.verdict).where(
        JobDiagnosis.job_id.in_(job_ids), JobDiagnosis.verdict.is_not(None)
    )
    return {job_id: verdict for job_id, verdict in session.execute(query) if verdict is not None}
