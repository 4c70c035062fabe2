"""Liveness and readiness: no auth, for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import SessionDep, SettingsDep
from api.errors import error_response, error_responses
from api.services import workers
from core.broker import producer
from store.db import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses=error_responses(503))
def read_readiness(session: SessionDep, settings: SettingsDep) -> JSONResponse | dict[str, Any]:
    """The database and the broker both answer; 503 naming the one that does not. `workers`: the live
    workers per queue (`train`: cpu and auto jobs, `gpu`: cuda jobs; GET /v1/workers lists them)."""
    down = []
    try:
        ping()
    except Exception:
        down.append("database")
    try:
        with producer().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        down.append("broker")
    if down:
        return error_response(503, "not_ready", f"unavailable: {', '.join(down)}", {"unavailable": down})
    return {"status": "ready", "workers": workers.consumers(session=session, settings=settings)}
