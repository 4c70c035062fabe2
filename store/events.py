"""Live job events: what changed on a job since a reader last looked, and the Redis hint that it did.

The database stays the truth. A message on a job's channel only says "look now"; the
reader then re-reads the rows, so a missed, late or duplicated message loses nothing.
In embedded mode there is no Redis and readers simply poll.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from store.models import Job, Metric
from store.settings import get_settings
from trainwell.metrics import STEP_METRICS

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "trainwell:job:"
# After a failed publish, training goes on without hints for this long rather than paying
# a connect timeout every epoch while Redis is down; readers fall back to polling meanwhile.
PUBLISH_BACKOFF_SECONDS = 10.0
_EPOCH_METRIC_EXCLUDED = sorted(m.value for m in STEP_METRICS)


def job_channel(job_id: str) -> str:
    return f"{CHANNEL_PREFIX}{job_id}"


def uses_redis(broker_url: str) -> bool:
    return broker_url.startswith(("redis://", "rediss://"))


@dataclass(frozen=True)
class JobState:
    """The part of a job row that live readers watch."""

    status: str
    attempt: int
    epoch: int
    epochs: int
    fold: int
    folds: int
    started_at: datetime | None
    finished_at: datetime | None
    error_reason: str | None
    error_message: str | None
    summary: dict[str, Any] | None


@dataclass(frozen=True)
class EpochMetrics:
    fold: int
    epoch: int
    step: int
    metrics: dict[str, float]


def read_job_state(*, session: Session, job_id: str) -> JobState | None:
    row = session.execute(
        select(
            Job.status,
            Job.attempt,
            Job.epoch,
            Job.epochs,
            Job.fold,
            Job.folds,
            Job.started_at,
            Job.finished_at,
            Job.error_reason,
            Job.error_message,
            Job.summary,
        ).where(Job.id == job_id)
    ).one_or_none()
    return JobState(*row) if row is not None else None


def read_epochs_after(*, session: Session, job_id: str, fold: int, epoch: int) -> list[EpochMetrics]:
    """Every epoch's metrics (no per-step series) after (fold, epoch), in training order."""
    query = (
        select(Metric.fold, Metric.epoch, Metric.step, Metric.name, Metric.value)
        .where(
            Metric.job_id == job_id,
            Metric.name.not_in(_EPOCH_METRIC_EXCLUDED),
            or_(Metric.fold > fold, and_(Metric.fold == fold, Metric.epoch > epoch)),
        )
        .order_by(Metric.fold, Metric.epoch)
    )
    grouped: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
    steps: dict[tuple[int, int], int] = {}
    for fold_, epoch_, step, name, value in session.execute(query):
        grouped[(fold_, epoch_)][name] = value
        steps[(fold_, epoch_)] = max(step, steps.get((fold_, epoch_), 0))
    return [EpochMetrics(f, e, steps[(f, e)], metrics) for (f, e), metrics in grouped.items()]


_publishers: dict[tuple[int, str], redis.Redis] = {}
_publish_paused_until = 0.0


def publish_job_changed(job_id: str, what: str) -> None:
    """Tell live readers of this job to look now. Never raises: a lost hint only delays them
    until their next fallback read, and must never fail a training run."""
    global _publish_paused_until
    url = get_settings().broker_url
    if not uses_redis(url) or time.monotonic() < _publish_paused_until:
        return
    # one client per process: a forked Celery child must not reuse its parent's socket
    key = (os.getpid(), url)
    try:
        client = _publishers.get(key)
        if client is None:
            client = _publishers[key] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        client.publish(job_channel(job_id), what)
    except redis.RedisError as exc:
        _publish_paused_until = time.monotonic() + PUBLISH_BACKOFF_SECONDS
        log.warning("job %s: could not publish a live-event hint (%s); readers fall back to polling", job_id, exc)
