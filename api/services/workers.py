"""Which workers consume now, and the refusal of a job that no live worker would take."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from api.services.errors import InvalidField
from core.broker import queue_for
from core.settings import Settings
from store.models import utcnow
from store.workers import live_workers
from trainwell.spec import JobSpec
from trainwell.worker import Worker, WorkerList


def read_workers(*, session: Session, settings: Settings) -> WorkerList:
    # a worker silent for a lease is gone, as a job's worker is for the reaper
    since = utcnow() - timedelta(seconds=settings.lease_seconds)
    return WorkerList(
        data=[Worker.model_validate(row, from_attributes=True) for row in live_workers(session=session, since=since)]
    )


def consumers(*, session: Session, settings: Settings) -> dict[str, int]:
    """Live workers per queue."""
    counts: dict[str, int] = {}
    for worker in read_workers(session=session, settings=settings).data:
        for queue in worker.queues:
            counts[queue] = counts.get(queue, 0) + 1
    return counts


def require_gpu_worker(*, session: Session, settings: Settings, spec: JobSpec) -> None:
    """A `cuda` job waits for a GPU worker: refuse it while none is live, rather than queue it forever."""
    if spec.device != "cuda":
        return
    queue = queue_for(spec.device)
    if consumers(session=session, settings=settings).get(queue, 0) == 0:
        raise InvalidField(
            "device",
            f"'cuda' needs a worker on a GPU host, and no live worker consumes the {queue!r} queue "
            "(GET /v1/workers lists them); use 'auto' or 'cpu', or start a worker on a GPU host",
            code="no_gpu_worker",
            detail="no live GPU worker",
        )
