"""Dependencies as Annotated aliases, so handlers never build sessions, parse tokens or look up
the resource in their path.

They are `async def` where they do no I/O: FastAPI runs every sync dependency in the thread pool,
a thread hop each (~0.1–0.2 ms and a GIL hand-off), so a submission leaves the event loop only for
a cache miss of the key lookup and for closing a session still in a transaction (its rollback goes
over the network). The lookups by id (OwnJobDep, OwnDatasetDep) query the database: they are sync.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import cached_caller, resolve_caller
from api.errors import ApiError
from api.services.datasets import read_dataset
from api.services.errors import InvalidField
from api.services.ownership import own_job
from api.services.storable import NUL_MESSAGE, nul_field
from core.settings import Settings, get_settings
from store import models
from store.db import open_request_session
from store.principals import Caller
from trainwell.dataset import Dataset

_bearer = HTTPBearer(auto_error=False, description="an API key: `tw_…` (or the operator's TRAINWELL_ADMIN_KEY)")


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_session() -> AsyncIterator[Session]:
    # no connection yet: the endpoint's first query takes one, in its thread; first it waits its turn
    # here, in the event loop, so a burst never deadlocks the pool (store/db.py)
    session = await open_request_session()
    try:
        yield session
    finally:
        if not session.in_transaction():
            session.close()  # it holds no connection (a commit returned it): nothing to send, no thread needed
        else:
            # shielded: a client that hangs up cancels the request, and the connection must still go back
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(session.close)


async def settings() -> Settings:
    return get_settings()


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(settings)]


async def get_caller(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise ApiError(
            401, "unauthorized", "missing bearer API key: send 'Authorization: Bearer <key>'", headers=_CHALLENGE
        )
    caller = cached_caller(credentials.credentials)
    if caller is None:
        caller = await run_in_threadpool(
            resolve_caller, session=session, key=credentials.credentials, admin_key=settings.admin_key
        )
    if caller is None:
        raise ApiError(401, "unauthorized", "invalid or revoked API key", headers=_CHALLENGE)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_own_job(job_id: str, session: SessionDep, caller: CallerDep) -> models.Job:
    """The path's job if it is the caller's; 404 for a missing or another principal's job."""
    return own_job(session=session, caller=caller, job_id=job_id)


def get_own_dataset(dataset_id: str, session: SessionDep, caller: CallerDep) -> Dataset:
    """The path's dataset: a shipped one by name, or one the caller uploaded; 404 otherwise."""
    return read_dataset(session=session, caller=caller, dataset_id=dataset_id)


OwnJobDep = Annotated[models.Job, Depends(get_own_job)]
OwnDatasetDep = Annotated[Dataset, Depends(get_own_dataset)]


async def refuse_malformed_parameters(request: Request, _: CallerDep) -> None:
    """A router dependency: a path or query value holding NUL is a 422 naming it, never a 500; a query
    parameter the operation does not take is a 422 naming the ones it does, so a misspelt `to_step` or
    `format` is not silently read as its default. After the key check, so a request without a valid key
    is a 401 whatever it sends (a key misplaced in the query string too)."""
    for location, params in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        for name, value in params:
            if nul_field(value, name):
                raise InvalidField(f"{location}.{name}", NUL_MESSAGE)
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        taken = _query_names(route)
        for name in request.query_params:
            if name not in taken:
                accepted = ", ".join(sorted(taken)) or "none"
                raise InvalidField(f"query.{name}", f"not a parameter of this operation; it takes: {accepted}")


def _query_names(route: APIRoute) -> set[str]:
    """The query parameters a route and its dependencies declare, by the name a client sends (a walk of
    a few nodes: cheaper than any cache keyed by the unhashable route)."""
    return _declared(route.dependant)


def _declared(dependant: Dependant) -> set[str]:
    return {field.alias for field in dependant.query_params}.union(*map(_declared, dependant.dependencies))
