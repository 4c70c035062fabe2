"""The Usage resource as the API serves it and the SDK reads it: a principal's jobs, stored bytes and quotas."""

from __future__ import annotations

from pydantic import BaseModel, Field


class JobCounts(BaseModel):
    by_status: dict[str, int] = Field(description="your jobs by status, every status named (0 included)")
    active: int = Field(description="queued, running or cancelling: what TRAINWELL_MAX_ACTIVE_JOBS counts")
    total: int


class StoredBytes(BaseModel):
    by_kind: dict[str, int] = Field(
        description="`uploads` (your datasets as stored), `checkpoints` (your jobs' checkpoints and model files), "
        "`exports` (the model downloads made for you in pt2 or onnx), `predictions` (their CSV and Parquet results)"
    )
    total: int


class Quota(BaseModel):
    limit: int | None = Field(description="null: no limit")
    used: int = Field(description="a count is read up to its limit")
    left: int | None = Field(description="what may still be used; null: no limit")


class Quotas(BaseModel):
    max_active_jobs: Quota
    submissions_per_minute: Quota = Field(description="used: submissions in the last minute")
    max_stored_bytes: Quota = Field(description="past it, uploads answer 413 and job submissions 429")


class Usage(BaseModel):
    jobs: JobCounts
    bytes: StoredBytes
    quotas: Quotas
