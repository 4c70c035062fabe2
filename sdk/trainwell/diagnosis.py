"""The fit diagnosis as the API serves it and the SDK reads it: verdicts, findings, remedies, curvature.

One definition of the vocabulary for the trainer (which computes a diagnosis), the store, the API and
the SDK. No torch here. A remedy's `spec_patch` is a JSON merge patch (RFC 7396) on the job's spec;
`merge_patch` applies one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from trainwell.spec import JobSpec


class Verdict(StrEnum):
    """The one-word answer, after the table in docs/architecture.md (what the losses show → verdict)."""

    good_fit = "good_fit"
    model_bias = "model_bias"  # training loss high, and a bigger/easier model would do better
    optimization = "optimization"  # training loss high, and the model could represent more than it found
    overfitting = "overfitting"  # training loss low, validation loss high
    mismatch = "mismatch"  # validation fine, test much worse: train and test distributions differ
    diverged = "diverged"  # loss NaN/Inf or exploding


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"


class DiagnosisStatus(StrEnum):
    pending = "pending"  # the job has not ended, or the worker has not written the diagnosis yet
    running_probes = "running_probes"  # the verdict is provisional: it waits for the probe jobs
    ready = "ready"
    # final without a verdict: the job trained nothing to judge, or failed before its losses could show a
    # fit (its data could not be loaded, it was stopped, its worker was lost); the summary names why
    not_applicable = "not_applicable"

    @property
    def is_final(self) -> bool:
        """No later diagnosis of the job will replace this one."""
        return self in (DiagnosisStatus.ready, DiagnosisStatus.not_applicable)


class FindingCode(StrEnum):
    """Every finding the diagnosis can report; the remedies route (`/remedies/{code}`) is keyed by these."""

    # the losses
    high_training_loss = "high_training_loss"
    overfitting = "overfitting"
    validation_loss_rising = "validation_loss_rising"
    best_epoch_early = "best_epoch_early"
    training_loss_above_validation = "training_loss_above_validation"
    mismatch = "mismatch"
    diverged = "diverged"
    loss_exploding = "loss_exploding"
    plateau = "plateau"
    slow_convergence = "slow_convergence"
    oscillation = "oscillation"
    # the instrumentation
    vanishing_gradients = "vanishing_gradients"
    exploding_gradients = "exploding_gradients"
    dying_relu = "dying_relu"
    saturated_activations = "saturated_activations"
    learning_rate_too_small = "learning_rate_too_small"
    learning_rate_too_large = "learning_rate_too_large"
    # the spec
    mse_for_classification = "mse_for_classification"
    unnormalized_features = "unnormalized_features"
    large_batch = "large_batch"
    sgd_without_momentum = "sgd_without_momentum"
    # the curvature at the final weights
    saddle_point = "saddle_point"
    local_minimum = "local_minimum"
    not_critical = "not_critical"  # the gradient was still large at the final weights
    curvature_skipped = "curvature_skipped"
    # a run from the user's own loop: the checks its logged metrics give no basis for, and why
    not_examined = "not_examined"
    # the probe runs: short child jobs that tell an optimization failure from model bias
    easier_probe_fits_better = "easier_probe_fits_better"  # a shallower, easier-to-optimize model trained further
    bigger_probe_fits_better = "bigger_probe_fits_better"  # only more capacity helped
    probes_inconclusive = "probes_inconclusive"  # neither probe did clearly better


class CriticalPoint(StrEnum):
    saddle_point = "saddle_point"  # gradient small, a clearly negative Hessian eigenvalue: a way down exists
    local_minimum = "local_minimum"  # gradient small, no clearly negative eigenvalue
    not_critical = "not_critical"  # gradient still large: the run had not stopped descending


class Remedy(BaseModel):
    title: str
    rationale: str
    spec_patch: dict[str, Any] = Field(description="JSON merge patch (RFC 7396) on the job's spec")


class Finding(BaseModel):
    code: FindingCode
    severity: Severity
    title: str
    evidence: dict[str, Any] = Field(description="the numbers and epochs the finding rests on")
    explanation: str
    remedies: list[Remedy] = Field(default_factory=list)


class EscapeStep(BaseModel):
    """The textbook way out of a saddle: a step along the eigenvector of the negative eigenvalue."""

    step: float  # signed step length along the unit eigenvector
    loss_before: float
    loss_after: float


class Curvature(BaseModel):
    gradient_norm: float | None = None  # full-batch (or fixed-subset) gradient norm at the final weights
    lambda_max: float | None = None  # largest Hessian eigenvalue: the sharpness
    lambda_min: float | None = None
    critical_point: CriticalPoint | None = None  # None when skipped
    escape: EscapeStep | None = None  # for a saddle point
    hvp_count: int = 0  # Hessian-vector products spent
    seconds: float = 0.0
    subset_rows: int = 0  # training rows the loss was computed on
    skipped_reason: str | None = None


class ProbeKind(StrEnum):
    easier = "easier"  # shallower, ReLU, BatchNorm, Adam: easier to optimize
    bigger = "bigger"  # more capacity


class Probe(BaseModel):
    """A short child job that separates model bias from optimization failure.

    It carries the original job's losses too, so one entry reads as the comparison it is.
    """

    kind: ProbeKind
    job_id: str | None = None
    status: str = "queued"  # the child job's JobStatus
    spec_patch: dict[str, Any] = Field(
        default_factory=dict, description="JSON merge patch (RFC 7396) that made the probe's spec from the original's"
    )
    train_loss: float | None = Field(None, description="the probe's training loss at its last epoch, once finished")
    val_loss: float | None = Field(None, description="the probe's validation loss at its last epoch, once finished")
    original_train_loss: float | None = Field(None, description="the original job's training loss at its end")
    original_val_loss: float | None = Field(None, description="the original job's validation loss at its end")
    original_train_se: float | None = Field(None, description="the standard error of the original's training loss")
    original_val_se: float | None = Field(None, description="the standard error of the original's validation loss")

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")  # JobStatus's final values

    def with_outcome(self, status: str, summary: dict[str, Any] | None) -> Probe:
        """This probe updated from its job's row: the status, and its last epoch's training and validation loss."""
        final = (summary or {}).get("final_metrics") or {}
        losses = {name: _number(final.get(name)) for name in ("train_loss", "val_loss")}
        return self.model_copy(update={"status": status, **losses})


class RemedyJob(BaseModel):
    """A job launched from one of this diagnosis's remedies, and how it did against the original."""

    job_id: str
    title: str
    status: str
    metric: str  # the metric the verdict is about: train_loss for bias/optimization, val_loss, test_loss
    before: float | None  # the original job's best value
    after: float | None  # the remedy job's best value, once it has finished


class ConfidenceLevel(StrEnum):
    high = "high"  # the verdict's evidence is far beyond its noise
    medium = "medium"  # beyond its noise, or decided by a rule of thumb a probe would confirm
    low = "low"  # within a few standard errors: more data, folds or seeds could change it


class Confidence(BaseModel):
    """How firmly the verdict stands, the margin it rests on, and what would settle a weak one."""

    level: ConfidenceLevel
    margin: str = Field(description="what the verdict rests on, in numbers (e.g. 'the gap is 9.4 standard errors')")
    settle: str | None = Field(None, description="for a medium or low confidence: what would settle the verdict")
    sweep: dict[str, Any] | None = Field(
        None, description="when more seeds would settle it: a POST /v1/sweeps body running the job's spec over 5 seeds"
    )


class LossTerm(BaseModel):
    value: float
    standard_error: float | None = None
    noise: str | None = Field(None, description="what set the standard error (rows, folds or epoch jitter)")


class LossDecomposition(BaseModel):
    """test loss = training loss + generalization gap (validation − training) + shift gap (test − validation).

    Competing findings are weighed by the share of the test loss each one explains."""

    train_loss: float
    generalization_gap: LossTerm | None = None  # None without validation rows
    shift_gap: LossTerm | None = None  # None without test rows
    test_loss: float | None = None
    trivial_loss: float | None = Field(None, description="the trivial predictor's loss, the scale of every term")


class Diagnosis(BaseModel):
    status: DiagnosisStatus = DiagnosisStatus.ready
    verdict: Verdict | None = None  # None while pending, and when not_applicable
    confidence: Confidence | None = None  # with every verdict
    summary: str = ""  # one sentence
    findings: list[Finding] = Field(default_factory=list)  # the primary finding first
    curvature: Curvature | None = None
    probes: list[Probe] = Field(default_factory=list)
    remedy_jobs: list[RemedyJob] = Field(default_factory=list)  # filled in when served, from the child jobs
    decomposition: LossDecomposition | None = None  # the losses at the job's end, term by term, with their noise


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def patched_spec(spec: JobSpec, patch: dict[str, Any]) -> JobSpec:
    """`spec` with a merge patch applied (a remedy's or a probe's), validated as a JobSpec."""
    return JobSpec.model_validate(merge_patch(spec.model_dump(mode="json"), patch))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge recursively, null deletes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
