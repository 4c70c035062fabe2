"""The Worker resource as the API serves it and the SDK reads it: a worker that consumes now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Worker(BaseModel):
    hostname: str = Field(description="Celery's node name, e.g. embedded@host")
    queues: list[str] = Field(description="the queues it consumes: `train` (cpu and auto jobs), `gpu` (cuda jobs)")
    devices: list[dict[str, Any]] = Field(
        description='what it trains on: {"kind": "cpu", "count"} and one {"kind": "cuda", "name", "index"} per GPU'
    )
    started_at: datetime
    heartbeat_at: datetime = Field(description="a worker silent for TRAINWELL_LEASE_SECONDS is no longer listed")


class WorkerList(BaseModel):
    data: list[Worker]
