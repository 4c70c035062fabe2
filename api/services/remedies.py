"""A remedy as a job spec: the original job's spec with a finding's remedy patch applied.

Launching it is an ordinary submission (services/submission.py) of this spec, linked to the
original as its parent.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.services.errors import Conflict, Invalid, NotFound
from store import models
from store.diagnoses import get_diagnosis
from trainwell.diagnosis import DiagnosisStatus, merge_patch
from trainwell.job import JobOrigin
from trainwell.spec import JobSpec

MAX_NAME_CHARS = 200  # JobSpec.name's limit: a remedy's title becomes the new job's name


def remedy_spec(*, session: Session, job: models.Job, code: str, index: int) -> JobSpec:
    """The spec of the job with remedy `index` of its diagnosis' finding `code` applied."""
    if job.origin == JobOrigin.external.value:
        raise Conflict("no_spec", f"run {job.id!r} trained in its owner's loop: it has no job spec to patch")
    diagnosis = get_diagnosis(session=session, job_id=job.id)
    if diagnosis is None or diagnosis.status is DiagnosisStatus.pending:
        raise Conflict("diagnosis_pending", f"job {job.id!r} has no diagnosis yet; it is made when the job ends")
    finding = next((f for f in diagnosis.findings if f.code == code), None)
    if finding is None:
        codes = ", ".join(f.code for f in diagnosis.findings if f.remedies) or "none"
        raise NotFound(
            "finding", code, f"the diagnosis of job {job.id!r} has no finding {code!r}; with remedies: {codes}"
        )
    if index >= len(finding.remedies):
        raise NotFound(
            "remedy",
            str(index),
            f"finding {code!r} has {len(finding.remedies)} remedies; index {index} is out of range",
        )
    remedy = finding.remedies[index]
    patched: dict[str, Any] = merge_patch(job.spec, remedy.spec_patch)
    patched["name"] = remedy.title[:MAX_NAME_CHARS]
    try:
        return JobSpec.model_validate(patched)
    except ValidationError as error:  # a remedy that yields an invalid spec is our bug, but say what it is
        raise Invalid("invalid_remedy", f"the remedy's patched spec is invalid: {error.errors()[0]['msg']}") from None
