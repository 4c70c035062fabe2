"""Reading a job's diagnosis: the stored one, with its probes' progress read live and how each
remedy job launched from it did."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from store import jobs as job_store
from store import models
from store.diagnoses import get_diagnosis
from store.probes import refreshed_probes
from trainwell.diagnosis import Diagnosis, DiagnosisStatus, RemedyJob, Verdict

# The metric each verdict is about, to say how a remedy did ("val_loss 0.31 → 0.09").
VERDICT_METRIC = {
    Verdict.model_bias: "train_loss",
    Verdict.optimization: "train_loss",
    Verdict.diverged: "train_loss",
    Verdict.mismatch: "test_loss",
}


def read_diagnosis(*, session: Session, job: models.Job) -> Diagnosis:
    """`status: pending` until the worker has diagnosed the ended job; while probe jobs run, their
    status and losses come from their rows, not from the stored body."""
    diagnosis = get_diagnosis(session=session, job_id=job.id)
    if diagnosis is None:
        return Diagnosis(status=DiagnosisStatus.pending, summary="The diagnosis is computed when the job ends.")
    if diagnosis.status is DiagnosisStatus.running_probes:
        diagnosis.probes = refreshed_probes(session=session, probes=diagnosis.probes)
    diagnosis.remedy_jobs = _remedy_jobs(session=session, job=job, diagnosis=diagnosis)
    return diagnosis


def _best(summary: dict[str, Any] | None, metric: str) -> float | None:
    value = ((summary or {}).get("best_metrics") or {}).get(metric)
    return float(value) if isinstance(value, int | float) else None


def _remedy_jobs(*, session: Session, job: models.Job, diagnosis: Diagnosis) -> list[RemedyJob]:
    """Each remedy job with the verdict's metric, best before (the job) and after (the remedy)."""
    metric = VERDICT_METRIC.get(diagnosis.verdict, "val_loss") if diagnosis.verdict else "val_loss"
    return [
        RemedyJob(
            job_id=child.id,
            title=child.name or "",
            status=child.status,
            metric=metric,
            before=_best(job.summary, metric),
            after=_best(child.summary, metric),
        )
        for child in job_store.remedy_jobs(session=session, parent_id=job.id)
    ]
