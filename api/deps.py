"""Dependencies as Annotated aliases, so handlers never build sessions or parse tokens.

They are `async def` where they do no I/O: FastAPI runs every sync dependency in the thread pool,
a thread hop each (~0.1–0.2 ms and a GIL hand-off), and a submission had six of them around its
one sync endpoint. Now only the endpoint, a cache miss of the key lookup, and closing a session
still in a transaction (its rollback goes over the network) leave the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import cached_caller, resolve_caller
from api.errors import ApiError
from core.settings import Settings, get_settings
from store.db import session_factory
from store.principals import Caller

_bearer = HTTPBearer(auto_error=False, description="an API key: `tw_…` (or the operator's TRAINWELL_ADMIN_KEY)")


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_session() -> AsyncIterator[Session]:
    session = session_factory()()  # no connection yet: the endpoint's first query takes one, in its thread
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


def nul_field(value: Any, field: str) -> str | None:
    """The first field (dotted, as in validation errors) whose text holds a NUL character, if any.

    PostgreSQL text cannot hold NUL (0x00): such a value reaching the database fails there as a
    500 (SQLite stores it), so the API refuses it up front, the same on both.
    """
    if isinstance(value, str):
        return field if "\x00" in value else None
    if isinstance(value, dict):
        children: Any = value.items()
    elif isinstance(value, list | tuple):
        children = enumerate(value)
    else:
        return None
    for key, child in children:
        found = nul_field(child, f"{field}.{key}" if field else str(key))
        if found:
            return found
    return None


def nul_error(field: str) -> ApiError:
    message = "NUL characters (0x00) are not allowed"
    return ApiError(422, "invalid_request", f"{field}: {message}", [{"field": field, "message": message}])


async def refuse_nul_parameters(request: Request) -> None:
    """A router dependency: a path or query value holding NUL is a 422 naming it, never a 500."""
    for location, params in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        for name, value in params:
            if nul_field(value, name):
                raise nul_error(f"{location}.{name}")
