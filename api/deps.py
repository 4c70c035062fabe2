"""Dependencies as Annotated aliases, so handlers never build sessions or parse tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import resolve_caller
from api.errors import ApiError
from store.db import session_factory
from store.principals import Caller
from store.settings import Settings, get_settings

_bearer = HTTPBearer(auto_error=False, description="an API key: `tw_…` (or the operator's TRAINWELL_ADMIN_KEY)")


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_session() -> Iterator[Session]:
    with session_factory()() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_caller(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise ApiError(
            401, "unauthorized", "missing bearer API key: send 'Authorization: Bearer <key>'", headers=_CHALLENGE
        )
    caller = resolve_caller(session=session, key=credentials.credentials, admin_key=settings.admin_key)
    if caller is None:
        raise ApiError(401, "unauthorized", "invalid or revoked API key", headers=_CHALLENGE)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]
