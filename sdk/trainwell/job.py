"""The Job resource as the API serves it and the SDK reads it: one definition for both."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from trainwell.diagnosis import Verdict
from trainwell.run import RunSpec
from trainwell.spec import JobSpec

if TYPE_CHECKING:  # pandas is the SDK's optional extra [pandas]; the service never needs it
    import pandas as pd


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    cancelling = "cancelling"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})


class JobOrigin(StrEnum):
    user = "user"
    probe = "probe"
    remedy = "remedy"
    sweep = "sweep"
    external = "external"  # a run logged from the user's own training loop (trainwell.run)


class Progress(BaseModel):
    epoch: int = 0
    epochs: int
    fold: int = 0
    folds: int = 1


class FailureReason(StrEnum):
    """Why a job ended `failed`: one machine-readable word, stored on the row and served as `error.reason`."""

    diverged = "diverged"  # the loss became NaN/Inf or exploded; the epochs before it are kept
    exception = "exception"  # the trainer raised; the traceback is stored apart
    dataset = "dataset"  # the data could not be loaded or does not fit the spec: nothing trained
    terminated = "terminated"  # the time limit or the worker's shutdown stopped it
    worker_lost = "worker_lost"  # its worker stopped heartbeating on every attempt
    metrics_unwritten = "metrics_unwritten"  # the database refused its metric rows: the series would be incomplete


class JobError(BaseModel):
    reason: FailureReason
    message: str  # one line for people; the traceback is stored apart


class Job(BaseModel):
    id: str
    name: str | None
    status: JobStatus
    spec: JobSpec | None = None  # None for an external run, which has `run` instead
    run: RunSpec | None = None  # what an external run declared (origin "external")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempt: int
    progress: Progress
    error: JobError | None
    summary: dict[str, Any] | None
    parent_id: str | None
    origin: JobOrigin
    sweep_id: str | None = None  # the sweep whose trial this job is (origin "sweep")
    # the stored diagnosis's verdict (provisional while its probe jobs run); None until diagnosed
    verdict: Verdict | None = None


class JobPage(BaseModel):
    data: list[Job]
    next_cursor: str | None


class MetricPoint(BaseModel):
    epoch: int
    step: int
    value: float


class MetricSeries(BaseModel):
    name: str
    fold: int
    points: list[MetricPoint]

    @property
    def epochs(self) -> list[int]:
        return [p.epoch for p in self.points]

    @property
    def values(self) -> list[float]:
        return [p.value for p in self.points]

    @property
    def last(self) -> float | None:
        return self.points[-1].value if self.points else None

    def to_pandas(self) -> pd.DataFrame:
        """One row per point: columns epoch, step, value (needs the extra `trainwell[pandas]`)."""
        pd = _pandas()
        return pd.DataFrame([p.model_dump() for p in self.points], columns=["epoch", "step", "value"])


class JobMetrics(BaseModel):
    job_id: str
    series: list[MetricSeries]

    def get(self, name: str, fold: int = 0) -> MetricSeries | None:
        """The series `name` of `fold`, or None when the job recorded none."""
        return next((s for s in self.series if s.name == name and s.fold == fold), None)

    def to_pandas(self) -> pd.DataFrame:
        """Tidy rows — name, fold, epoch, step, value — one per point (needs the extra `trainwell[pandas]`).

        `df.pivot_table(index="epoch", columns="name", values="value")` gives one column per metric.
        """
        pd = _pandas()
        rows = [{"name": s.name, "fold": s.fold, **p.model_dump()} for s in self.series for p in s.points]
        return pd.DataFrame(rows, columns=["name", "fold", "epoch", "step", "value"])


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError("to_pandas() needs pandas: pip install 'trainwell[pandas]'") from None
    return pandas
