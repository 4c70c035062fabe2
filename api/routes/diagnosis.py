"""GET /v1/jobs/{id}/diagnosis: why the job fits the way it does, and what to change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from api.deps import CallerDep, SessionDep, refuse_nul_parameters
from api.errors import AUTHENTICATED, error_responses
from api.routes.jobs import own_job
from store import models
from store.diagnoses import get_diagnosis
from store.probes import refreshed_probes
from trainwell.diagnosis import Diagnosis, DiagnosisStatus, RemedyJob, Verdict
from trainwell.job import JobOrigin

router = APIRouter(
    prefix="/v1/jobs", tags=["diagnosis"], responses=AUTHENTICATED, dependencies=[Depends(refuse_nul_parameters)]
)


@router.get("/{job_id}/diagnosis", response_model=Diagnosis, responses=error_responses(404))
def read_diagnosis(job_id: str, session: SessionDep, caller: CallerDep) -> Diagnosis:
    """The stored diagnosis; `status: pending` until the worker has computed it after the job ended, and
    `running_probes` (the verdict provisional) while probe jobs run; `GET /v1/jobs?parent_id=` lists them."""
    job = own_job(session, caller, job_id)
    diagnosis = get_diagnosis(session=session, job_id=job.id)
    if diagnosis is None:
        return Diagnosis(status=DiagnosisStatus.pending, summary="The diagnosis is computed when the job ends.")
    if diagnosis.status is DiagnosisStatus.running_probes:  # how far the probes are, read live
        diagnosis.probes = refreshed_probes(session=session, probes=diagnosis.probes)
    diagnosis.remedy_jobs = _remedy_jobs(session, job, diagnosis)
    return diagnosis


# The metric each verdict is about, to say how a remedy did ("val_loss 0.31 → 0.09").
VERDICT_METRIC = {
    Verdict.model_bias: "train_loss",
    Verdict.optimization: "train_loss",
    Verdict.diverged: "train_loss",
    Verdict.mismatch: "test_loss",
}


def _best(summary: dict[str, Any] | None, metric: str) -> float | None:
    value = ((summary or {}).get("best_metrics") or {}).get(metric)
    return float(value) if isinstance(value, int | float) else None


def _remedy_jobs(session: SessionDep, job: models.Job, diagnosis: Diagnosis) -> list[RemedyJob]:
    metric = VERDICT_METRIC.get(diagnosis.verdict, "val_loss") if diagnosis.verdict else "val_loss"
    children = session.scalars(
        select(models.Job)
        .where(models.Job.parent_id == job.id, models.Job.origin == JobOrigin.remedy.value)
        .order_by(models.Job.created_at)
    )
    return [
        RemedyJob(
            job_id=child.id,
            title=child.name or "",
            status=child.status,
            metric=metric,
            before=_best(job.summary, metric),
            after=_best(child.summary, metric),
        )
        for child in children
    ]
