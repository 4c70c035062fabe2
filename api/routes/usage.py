"""GET /v1/usage: your jobs, the bytes you store, and your quotas with what is left of each."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CallerDep, SessionDep, SettingsDep
from api.errors import AUTHENTICATED
from api.services import usage
from trainwell.usage import Usage

router = APIRouter(prefix="/v1/usage", tags=["usage"], responses=AUTHENTICATED)


@router.get("", response_model=Usage)
def read_usage(session: SessionDep, settings: SettingsDep, caller: CallerDep) -> Usage:
    """Your jobs by status, your stored bytes by kind (uploads, checkpoints, exports), and your quotas:
    active jobs (TRAINWELL_MAX_ACTIVE_JOBS), submissions a minute (TRAINWELL_SUBMISSIONS_PER_MINUTE) and
    stored bytes (TRAINWELL_MAX_STORED_BYTES), each with its limit, what is used and what is left."""
    return usage.read_usage(session=session, caller=caller, settings=settings)
