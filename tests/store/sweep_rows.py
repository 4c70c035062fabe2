"""A sweep's row stored as the API would store it, for the store's tests: its principal made fresh."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from store import sweeps as sweep_store
from store.models import utcnow
from store.principals import get_or_create_principal
from trainwell.sweep import SweepStatus


def new_sweep(
    session: Session,
    *,
    base: dict[str, Any],
    seeds: list[int],
    trials: int,
    max_parallel: int = 4,
    request: dict[str, Any] | None = None,
    grid: dict[str, Any] | None = None,
    search: dict[str, Any] | None = None,
    trial_rows: Sequence[dict[str, Any]] = (),
) -> tuple[str, int]:
    """Store a running sweep (and its waiting `trial_rows`, if any) for a new principal; commits. Returns the
    sweep's id and the principal's."""
    owner = get_or_create_principal(session=session, name=f"sweeper-{uuid.uuid4().hex[:6]}")
    sweep_id = str(uuid.uuid4())
    sweep_store.create_sweep(
        session=session,
        sweep={
            "id": sweep_id,
            "principal_id": owner.id,
            "name": None,
            "status": SweepStatus.running.value,
            "request": request or {},
            "base": base,
            "grid": grid or {},
            "search": search,
            "seeds": seeds,
            "max_parallel": max_parallel,
            "trials": trials,
            "idempotency_key": None,
            "created_at": utcnow(),
        },
        trials=trial_rows,
    )
    session.commit()
    return sweep_id, owner.id
