"""The Sweep resource as the API serves it and the SDK reads it: a grid over spec fields × seeds, its
trials (ordinary jobs, `origin: "sweep"`), the comparison table and the comparative findings.

A grid key is a dotted path into the JobSpec (`optimizer.lr`, `model.hidden`, `dataset.feature_norm`);
each of its values replaces that field in the base spec, except an object, which is a JSON merge patch
(RFC 7396) on the field, for cells that change several fields together (`"optimizer": [{"name": "sgd",
"momentum": 0.9}, {"name": "adam"}]`). The cells are the grid's cartesian product, in the order of its
keys and values; each cell runs once per seed, the seed going to the spec's `seed` (weight init, batch
order) while the data split stays the base's `dataset.seed` unless the grid names it.

Instead of a grid, a sweep may carry a `search`: a space of ranges and choices over the same dotted
paths, from which a sampler (Optuna's random or TPE) draws `trials` configurations one at a time as
the sweep has room, each run once per seed and scored by the mean of its seeds' OBJECTIVE_METRIC.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from trainwell.diagnosis import Severity, Verdict
from trainwell.spec import MAX_SEED, JobSpec


class SweepStatus(StrEnum):
    running = "running"  # some trial has not ended
    succeeded = "succeeded"  # every trial ended (each with its own status: a failed trial is a result too)
    cancelled = "cancelled"  # cancelled: its unfinished trials were cancelled, nothing more is released

    @property
    def is_final(self) -> bool:
        return self is not SweepStatus.running


# What ranks a sweep's cells and what a search's sampler minimizes: the validation loss at each trial's
# best epoch (its summary's `best_metrics`), so model selection never looks at the test split.
OBJECTIVE_METRIC = "val_loss"


class Distribution(BaseModel):
    """One dimension of a search space: exactly one of `uniform`, `loguniform`, `int` (with `log` for a
    log scale) as `[low, high]`, both ends included, or `choice`, the values to pick from."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    integer: tuple[int, int] | None = Field(None, alias="int")
    log: bool = Field(False, description="with `int`: sample on a log scale")
    choice: list[Any] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Distribution:
        given = [name for name in ("uniform", "loguniform", "integer", "choice") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform, loguniform, int, choice")
        if self.log and self.integer is None:
            raise ValueError("log applies to int only (loguniform is the log-scale float range)")
        bounds = self.bounds
        if bounds is not None:
            low, high = bounds
            if low >= high:
                raise ValueError(f"low {low} must be below high {high}")
            if (self.loguniform is not None or self.log) and low <= 0:
                raise ValueError(f"a log scale needs low > 0, not {low}")
        return self

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The one kind it is, as a request writes it: `{"int": [16, 512], "log": true}`, not every field."""
        dumped: dict[str, Any] = handler(self)
        kept = {key: value for key, value in dumped.items() if value is not None}
        if self.integer is None:
            kept.pop("log", None)
        return kept

    @property
    def bounds(self) -> tuple[float, float] | None:
        """[low, high] of a range; None for a choice."""
        return self.uniform or self.loguniform or self.integer


class Search(BaseModel):
    """A search space and the sampler that draws its configurations."""

    model_config = ConfigDict(extra="forbid")

    space: dict[str, Distribution] = Field(
        min_length=1, description="dotted spec path → its distribution, as a grid key names a field"
    )
    sampler: Literal["random", "tpe"] = Field("tpe", description="Optuna's RandomSampler or TPESampler")
    trials: int = Field(ge=1, description="configurations to sample; each runs once per seed")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="the sampler's seed: the same seed draws the same search")


class Asha(BaseModel):
    """Asynchronous successive halving (Li et al., "A System for Massively Parallel Hyperparameter Tuning",
    MLSys 2020): a trial is judged at each rung, the epochs min_epochs·η^k below its last, and goes on only
    while its metric at that epoch is in the top 1/η of the trials that have reached the rung so far (the
    first to reach a rung always goes on). A stopped trial ends `succeeded`, its summary saying why."""

    model_config = ConfigDict(extra="forbid")

    metric: Literal["val_loss", "val_accuracy", "val_mae", "val_r2"] = Field(
        "val_loss",
        description="what a rung compares, at the epoch it is reached: losses and MAE lower, the rest higher",
    )
    min_epochs: int = Field(1, ge=1, le=10_000, description="the first rung's epoch")
    reduction_factor: int = Field(3, ge=2, le=100, description="η: the rungs are η× apart, 1/η of a rung goes on")

    @property
    def maximize(self) -> bool:
        return self.metric in ("val_accuracy", "val_r2")

    def rungs(self, epochs: int) -> list[int]:
        """The epochs a trial of `epochs` epochs is judged at: min_epochs·η^k, below its last epoch (which
        it ends at anyway)."""
        rungs, epoch = [], self.min_epochs
        while epoch < epochs:
            rungs.append(epoch)
            epoch *= self.reduction_factor
        return rungs


class EarlyStop(BaseModel):
    """How a sweep stops its weak trials before their last epoch."""

    model_config = ConfigDict(extra="forbid")

    asha: Asha


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
                },
                {
                    "name": "a learning-rate and width search on digits",
                    "base": {"dataset": {"name": "digits"}, "epochs": 20},
                    "search": {
                        "space": {
                            "optimizer.lr": {"loguniform": [1e-5, 1]},
                            "model.hidden": {"choice": [[64], [128, 128]]},
                            "batch_size": {"int": [16, 512], "log": True},
                        },
                        "sampler": "tpe",
                        "trials": 8,
                        "seed": 0,
                    },
                    "seeds": [0, 1],
                    "max_parallel": 4,
                },
            ]
        },
    )

    name: str | None = Field(None, max_length=200)
    base: JobSpec = Field(description="the spec every cell starts from")
    grid: dict[str, list[Any]] | None = Field(
        None,
        description="dotted spec path → the values it takes; an object value is a JSON merge patch on that field",
        min_length=1,
    )
    search: Search | None = Field(None, description="instead of a grid: ranges and choices a sampler draws from")
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] = Field(
        default_factory=lambda: [0, 1, 2],
        min_length=1,
        description="each cell runs once per seed (the spec's `seed`: weight init and batch order)",
    )
    max_parallel: int = Field(4, ge=1, description="at most this many of the sweep's trials queued or running at once")
    early_stop: EarlyStop | None = Field(None, description="stop weak trials at rungs (ASHA), a grid's or a search's")

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
    """One row of the comparison: a cell's grid values (a search's sampled configuration) and its
    statistics over the seeds that finished."""

    cell: int
    values: dict[str, Any] = Field(description="the cell's grid values, or the configuration a search sampled")
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
    stopped_early: int = Field(0, description="its trials the sweep's early stop ended at a rung")


class Comparison(BaseModel):
    """The best cell against the runner-up on one metric (lower is better), with Welch's t-test."""

    metric: str
    best_cell: int
    runner_up: int | None
    difference: float | None = Field(description="runner-up mean − best mean")
    p_value: float | None = Field(description="Welch's two-sided t-test over the two cells' seeds")
    separable: bool | None = Field(description="p < 0.05: the lead is beyond the seed-to-seed noise")
    objective: float | None = Field(None, description="the best cell's mean of `metric` over its succeeded seeds")
    objective_std: float | None = Field(None, description="its standard deviation over those seeds (None below two)")
    seeds: int = Field(0, description="the succeeded seeds the mean and std are over")


class SweepAccounting(BaseModel):
    """The compute a sweep spent against what running every trial to its last epoch would have."""

    epochs_trained: int = Field(description="epochs its trials' jobs ran, summed over folds (so far, while it runs)")
    epochs_full: int = Field(description="every trial's epochs × folds, as its spec says")
    fraction: float | None = Field(description="epochs_trained / epochs_full")
    stopped_early: int = Field(0, description="trials the sweep's early stop ended at a rung")


class ParameterImportance(BaseModel):
    path: str = Field(description="the dotted spec path the sweep varies")
    importance: float = Field(description="its share of the objective's variation; the parameters' sum to 1")
    kind: Literal["range", "choice"]
    best: Any = Field(
        description="a range's [low, high] over the best quarter of the configurations by objective; a choice's "
        "value with the lowest mean objective"
    )


class SweepImportance(BaseModel):
    """GET /v1/sweeps/{id}/importance: which parameters explain the objective's variation."""

    sweep_id: str
    objective: str = Field(description="what is explained: the mean over seeds of the best epoch's val_loss")
    evaluator: Literal["fanova", "ped_anova"] = Field(
        description="Optuna's fANOVA (seeded), or PED-ANOVA from 1,000 finished configurations"
    )
    configurations: int = Field(description="finished configurations (cells) with an objective")
    parameters: list[ParameterImportance] = Field(description="most important first; empty with a `reason`")
    reason: str | None = Field(None, description="why there are no importances yet")


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
    grid: dict[str, list[Any]] = Field(description="empty for a search")
    search: Search | None = None
    seeds: list[int]
    max_parallel: int
    early_stop: EarlyStop | None = None
    created_at: datetime
    finished_at: datetime | None
    trials: int = Field(description="cells (or a search's configurations) × seeds")
    counts: SweepCounts
    # GET /v1/sweeps/{id} fills these; a listing leaves them empty
    table: list[SweepCell] = Field(default_factory=list)
    best: Comparison | None = None
    findings: list[SweepFinding] = Field(default_factory=list)
    accounting: SweepAccounting | None = None

    @property
    def parameters(self) -> list[str]:
        """The spec paths its cells vary: the grid's keys, or the search space's."""
        return list(self.search.space if self.search is not None else self.grid)


class SweepPage(BaseModel):
    data: list[Sweep]
    next_cursor: str | None
