"""The Job resource as the API serves it and the SDK reads it: one definition for both."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from trainwell.spec import JobSpec


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


class Progress(BaseModel):
    epoch: int = 0
    epochs: int
    fold: int = 0
    folds: int = 1


class JobError(BaseModel):
    reason: str  # one machine-readable word: diverged, exception, worker_lost, ...
    message: str  # one line for people; the traceback is stored apart


class Job(BaseModel):
    id: str
    name: str | None
    status: JobStatus
    spec: JobSpec
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempt: int
    progress: Progress
    error: JobError | None
    summary: dict[str, Any] | None
    parent_id: str | None
    origin: JobOrigin


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


class JobMetrics(BaseModel):
    job_id: str
    series: list[MetricSeries]
