"""The Sweep resource as the API serves it and the SDK reads it: a grid over spec fields × seeds, its
trials (ordinary jobs, `origin: "sweep"`), the comparison table and the comparative findings.

A grid key is a dotted path into the JobSpec (`optimizer.lr`, `model.hidden`, `dataset.feature_norm`);
each of its values replaces that field in the base spec, except an object, which is a JSON merge patch
(RFC 7396) on the field, for cells that change several fields together (`"optimizer": [{"name": "sgd",
"momentum": 0.9}, {"name": "adam"}]`). The cells are the grid's cartesian product, in the order of its
keys and values; each cell runs once per seed, the seed going to the spec's `seed` (weight init, batch
order) while the data split stays the base's `dataset.seed` unless the grid names it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainwell.diagnosis import Severity, Verdict
from trainwell.spec import MAX_SEED, JobSpec


class SweepStatus(StrEnum):
    running = "running"  # some trial has not ended
    succeeded = "succeeded"  # every trial ended (each with its own status: a failed trial is a result too)
    cancelled = "cancelled"  # cancelled: its unfinished trials were cancelled, nothing more is released

    @property
    def is_final(self) -> bool:
        return self is not SweepStatus.running


class SweepRequest(BaseModel):
    """POST /v1/sweeps."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "optimizers and batch sizes on digits",
                    "base": {"dataset": {"name": "digits"}, "model": {"hidden": [64]}, "epochs": 20},
                    "grid": {"optimizer.name": ["sgd", "adam"], "batch_size": [16, 1024]},
                    "seeds": [0, 1, 2],
                    "max_parallel": 4,
                }
            ]
        },
    )

    name: str | None = Field(None, max_length=200)
    base: JobSpec = Field(description="the spec every cell starts from")
    grid: dict[str, list[Any]] = Field(
        description="dotted spec path → the values it takes; an object value is a JSON merge patch on that field",
        min_length=1,
    )
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] = Field(
        default_factory=lambda: [0, 1, 2],
        min_length=1,
        description="each cell runs once per seed (the spec's `seed`: weight init and batch order)",
    )
    max_parallel: int = Field(4, ge=1, description="at most this many of the sweep's trials queued or running at once")

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
        if repeated:
            raise ValueError(f"each seed once: {repeated} repeated")
        return seeds


class Stat(BaseModel):
    """A quantity over a cell's trials: mean, sample standard deviation (n - 1; None below two) and count."""

    mean: float | None
    std: float | None
    n: int


class SweepCounts(BaseModel):
    waiting: int = 0  # not released yet: held back by max_parallel or the principal's active-jobs quota
    queued: int = 0
    running: int = 0
    cancelling: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


class SweepCell(BaseModel):
    """One row of the comparison: a cell's grid values and its statistics over the seeds that finished."""

    cell: int
    values: dict[str, Any]
    job_ids: list[str] = Field(description="its trials' jobs, by seed; an unreleased trial has none yet")
    succeeded: int
    metrics: dict[str, Stat] = Field(
        description="`best_<metric>` (at the best validation epoch) and `final_<metric>` (the last epoch) "
        "over the succeeded trials: losses and accuracy, or MAE and R² for regression"
    )
    best_epoch: Stat = Field(description="epochs to the lowest validation loss")
    seconds: Stat = Field(description="wall time per trial")
    lambda_max: Stat = Field(description="the sharpness: the largest Hessian eigenvalue at each trial's final weights")
    verdicts: dict[Verdict, int] = Field(description="the trials' diagnosis verdicts, counted")


class Comparison(BaseModel):
    """The best cell against the runner-up on one metric (lower is better), with Welch's t-test."""

    metric: str
    best_cell: int
    runner_up: int | None
    difference: float | None = Field(description="runner-up mean − best mean")
    p_value: float | None = Field(description="Welch's two-sided t-test over the two cells' seeds")
    separable: bool | None = Field(description="p < 0.05: the lead is beyond the seed-to-seed noise")


class SweepFinding(BaseModel):
    """A comparative finding, in the diagnosis's shape; `remedy` is a JSON merge patch on the base spec."""

    code: str
    severity: Severity
    title: str
    evidence: dict[str, Any]
    explanation: str
    remedy: dict[str, Any] | None = None


class Sweep(BaseModel):
    id: str
    name: str | None
    status: SweepStatus
    base: JobSpec
    grid: dict[str, list[Any]]
    seeds: list[int]
    max_parallel: int
    created_at: datetime
    finished_at: datetime | None
    trials: int
    counts: SweepCounts
    # GET /v1/sweeps/{id} fills these; a listing leaves them empty
    table: list[SweepCell] = Field(default_factory=list)
    best: Comparison | None = None
    findings: list[SweepFinding] = Field(default_factory=list)


class SweepPage(BaseModel):
    data: list[Sweep]
    next_cursor: str | None
