"""An external run: a training run from the user's own loop, logged to the service and diagnosed like a job.

`POST /v1/runs` takes a RunSpec and answers a Job (origin "external") whose `run` is that spec; the loop
then sends RunPoints batches to `/v1/runs/{id}/metrics` and ends the run with `/v1/runs/{id}/finish`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from trainwell.catalog import Task

# Steps, epochs and folds are stored as SQL INTEGER.
MAX_INDEX = 2**31 - 1
MAX_CLASSES = 100_000
# A class prior is a distribution: its sum may be off by rounding in the user's own arithmetic.
PRIOR_TOLERANCE = 1e-6

# JSON has no NaN or infinity: a non-finite value travels as one of these strings.
VALUE_SCHEMA = {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}

RunLoss = Literal["cross_entropy", "mse", "mae", "huber"]
DEFAULT_LOSS: dict[str, RunLoss] = {"classification": "cross_entropy", "regression": "mse"}
TASK_LOSSES: dict[str, tuple[RunLoss, ...]] = {
    "classification": ("cross_entropy", "mse"),
    "regression": ("mse", "mae", "huber"),
}


class RunSpec(BaseModel):
    """What a run from the user's own loop declares: enough for the diagnosis to judge its curves.

    The trivial predictor's loss (the yardstick of "high training loss") comes from `class_prior` (cross
    entropy: the prior's entropy) or `target_variance` (MSE: the variance); without them the diagnosis says
    it made no such comparison. `config` is the user's own, stored and served as sent.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    task: Task
    classes: int | None = Field(None, ge=2, le=MAX_CLASSES, description="required for classification")
    loss: RunLoss | None = Field(None, description="the loss the loop minimizes; default by task")
    class_prior: list[float] | None = Field(None, description="the training labels' class frequencies, summing to 1")
    target_variance: float | None = Field(None, gt=0, description="the training targets' variance (regression)")
    epochs: int | None = Field(None, ge=1, le=MAX_INDEX, description="epochs planned, for the progress bar")
    config: dict[str, Any] = Field(default_factory=dict, description="free-form: hyperparameters, code version …")

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        if self.loss is not None and self.loss not in TASK_LOSSES[self.task]:
            raise ValueError(f"loss: {self.loss} is not a {self.task} loss; one of {', '.join(TASK_LOSSES[self.task])}")
        if self.task == "classification":
            if self.classes is None:
                raise ValueError("classes: required for a classification run")
            if self.target_variance is not None:
                raise ValueError("target_variance: only for a regression run")
            if self.class_prior is not None:
                _check_prior(self.class_prior, self.classes)
        else:
            if self.classes is not None or self.class_prior is not None:
                raise ValueError("classes, class_prior: only for a classification run")
            if self.target_variance is not None and not math.isfinite(self.target_variance):
                raise ValueError("target_variance: must be finite")
        return self

    @property
    def resolved_loss(self) -> RunLoss:
        return self.loss or DEFAULT_LOSS[self.task]


def _check_prior(prior: list[float], classes: int) -> None:
    if len(prior) != classes:
        raise ValueError(f"class_prior: {len(prior)} values for {classes} classes")
    if any(not math.isfinite(p) or p < 0 for p in prior):
        raise ValueError("class_prior: every value must be a finite frequency ≥ 0")
    if abs(math.fsum(prior) - 1) > PRIOR_TOLERANCE:
        raise ValueError(f"class_prior: sums to {math.fsum(prior):.6g}, not 1")


class RunPoint(BaseModel):
    """One metric value: a shared metric name (trainwell.metrics) or a `custom/…` one. NaN and ±Inf are
    accepted and mark the run diverged; they are not stored as points (a job's series hold only finite values)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=64)
    step: int = Field(..., ge=0, le=MAX_INDEX)
    epoch: int = Field(..., ge=0, le=MAX_INDEX)
    fold: int = Field(0, ge=0, le=MAX_INDEX)
    value: Annotated[float, WithJsonSchema(VALUE_SCHEMA)]


class RunPoints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[RunPoint]


class RunPointsAccepted(BaseModel):
    """What a metrics batch did: every point accepted; the finite ones stored (a re-sent point overwrites
    itself), the non-finite ones recorded as the run's divergence."""

    run_id: str
    accepted: int
    stored: int
    non_finite: int
    diverged: bool  # the run has logged a non-finite value, in this batch or before
