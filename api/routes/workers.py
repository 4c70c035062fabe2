"""GET /v1/workers: the workers that consume now, with their queues and devices."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CallerDep, SessionDep, SettingsDep
from api.errors import AUTHENTICATED
from api.services import workers
from trainwell.worker import WorkerList

router = APIRouter(prefix="/v1/workers", tags=["workers"], responses=AUTHENTICATED)


@router.get("", response_model=WorkerList)
def read_workers(session: SessionDep, settings: SettingsDep, _: CallerDep) -> WorkerList:
    """Live workers (heartbeat within TRAINWELL_LEASE_SECONDS): a `cuda` job is refused while none consumes `gpu`."""
    return workers.read_workers(session=session, settings=settings)
