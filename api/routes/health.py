"""Liveness and readiness: no auth, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.errors import error_response, error_responses
from core.broker import producer
from store.db import get_engine

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses=error_responses(503))
def read_readiness() -> JSONResponse | dict[str, str]:
    """The database and the broker both answer; 503 naming the one that does not."""
    down = []
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        down.append("database")
    try:
        with producer().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        down.append("broker")
    if down:
        return error_response(503, "not_ready", f"unavailable: {', '.join(down)}", {"unavailable": down})
    return {"status": "ready"}
