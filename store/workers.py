"""Workers' presence: each announces itself (queues, devices) and heartbeats; readers see the live ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.db import upsert_insert
from store.models import Worker, utcnow


def record_worker(
    *, session: Session, hostname: str, queues: list[str], devices: list[dict[str, Any]], starting: bool
) -> None:
    """Stamp the worker's heartbeat; `starting`: it (re)started, so its queues, devices and start are new."""
    now = utcnow()
    values = {"hostname": hostname, "queues": queues, "devices": devices, "started_at": now, "heartbeat_at": now}
    refreshed = values if starting else {"heartbeat_at": now}
    statement = upsert_insert(session, Worker).values(**values)
    session.execute(statement.on_conflict_do_update(index_elements=["hostname"], set_=refreshed))


def retire_worker(*, session: Session, hostname: str) -> None:
    session.execute(delete(Worker).where(Worker.hostname == hostname))


def live_workers(*, session: Session, since: datetime) -> list[Worker]:
    """The workers that heartbeated since `since`, by name."""
    return list(session.scalars(select(Worker).where(Worker.heartbeat_at >= since).order_by(Worker.hostname)))
