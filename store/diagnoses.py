"""Stored diagnoses: one row per job, overwritten when recomputed (idempotent)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from store.db import upsert_insert
from store.models import Job, JobDiagnosis, utcnow
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


def save_attempt_diagnosis(*, session: Session, job_id: str, attempt: int, diagnosis: Diagnosis) -> bool:
    """Store the diagnosis a job's attempt computed, only while that attempt is the job's newest claim:
    one `INSERT … SELECT … FROM jobs WHERE attempt = …` upsert, so a superseded attempt that wakes up
    late cannot overwrite the newer attempt's diagnosis. False when it was not stored."""
    values: dict[str, Any] = {
        "job_id": literal(job_id),
        "status": literal(diagnosis.status.value),
        "verdict": literal(diagnosis.verdict.value if diagnosis.verdict is not None else None),
        "body": literal(diagnosis.model_dump(mode="json"), type_=JobDiagnosis.__table__.c.body.type),
        "updated_at": literal(utcnow(), type_=JobDiagnosis.__table__.c.updated_at.type),
    }
    owned = select(*(value.label(name) for name, value in values.items())).where(
        Job.id == job_id, Job.attempt == attempt
    )
    statement = upsert_insert(session, JobDiagnosis.__table__).from_select(list(values), owned)
    statement = statement.on_conflict_do_update(
        index_elements=["job_id"], set_={c: statement.excluded[c] for c in ("status", "verdict", "body", "updated_at")}
    ).returning(JobDiagnosis.__table__.c.job_id)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … SELECT … ON CONFLICT here
    return session.execute(statement).first() is not None


def get_diagnosis(*, session: Session, job_id: str) -> Diagnosis | None:
    body = session.scalar(select(JobDiagnosis.body).where(JobDiagnosis.job_id == job_id))
    return Diagnosis.model_validate(body) if body is not None else None


def verdicts(*, session: Session, job_ids: list[str]) -> dict[str, str]:
    """job id → verdict, for listing jobs with their badge without loading the bodies."""
    query = select(JobDiagnosis.job_id, JobDiagnosis.verdict).where(
        JobDiagnosis.job_id.in_(job_ids), JobDiagnosis.verdict.is_not(None)
    )
    return {job_id: verdict for job_id, verdict in session.execute(query) if verdict is not None}
