"""Service counters: incremented by workers in their own transactions, read by /metrics."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.db import upsert_insert
from store.models import ServiceCounter

# what each counter counts; /metrics exports each as trainwell_<name>_total
COUNTERS = {
    "reaper_requeued": "running jobs whose worker was lost, requeued to resume",
    "reaper_failed": "jobs failed with reason worker_lost after their last attempt",
    "reaper_cancelled": "cancelling jobs whose worker was lost, marked cancelled",
    "reaper_resent": "queued jobs whose message the broker lost, sent again",
    "reaper_rediagnosed": "finished jobs whose diagnosis's process was lost, diagnosed again",
    "reaper_undiagnosed": "finished jobs left without a diagnosis (never ran, or lost on every attempt): not_applicable",
    "reaper_landscapes_requeued": "landscapes whose worker was lost, computed again",
    "reaper_landscapes_failed": "landscapes failed after their worker was lost on every attempt",
    "metric_write_retries": "metric writes that failed and were retried later",
}


def increment(*, session: Session, name: str, by: int = 1) -> None:
    if name not in COUNTERS:
        raise ValueError(f"unknown counter {name!r}")
    if by <= 0:
        return
    statement = upsert_insert(session, ServiceCounter).values(name=name, value=by)
    session.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"value": ServiceCounter.value + by}))


def read_counters(*, session: Session) -> dict[str, int]:
    values = dict.fromkeys(COUNTERS, 0)
    values.update({name: value for name, value in session.execute(select(ServiceCounter.name, ServiceCounter.value))})
    return values
