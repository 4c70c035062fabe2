"""Principals and their API keys.

A key reads `tw_<prefix>_<secret>`. Only a SHA-256 of the whole key is stored: the
secret is 32 random bytes, so a slow password hash would add latency to every
request without adding safety (a fast hash of a high-entropy token cannot be
brute-forced). The prefix is stored in clear to find the row in one lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import ApiKey, Principal, utcnow

KEY_PREFIX = "tw_"
ADMIN_PRINCIPAL = "admin"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the principal whose rows a request may touch (admins touch all)."""

    principal_id: int
    name: str
    is_admin: bool

    @property
    def scope(self) -> int | None:
        """The principal id to filter queries by; None for admins, who see everything."""
        return None if self.is_admin else self.principal_id


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def get_or_create_principal(*, session: Session, name: str) -> Principal:
    principal = session.scalars(select(Principal).where(Principal.name == name)).one_or_none()
    if principal is not None:
        return principal
    try:
        with session.begin_nested():
            principal = Principal(name=name, created_at=utcnow())
            session.add(principal)
    except IntegrityError:  # created by a concurrent request
        principal = session.scalars(select(Principal).where(Principal.name == name)).one()
    return principal


def create_key(*, session: Session, principal: Principal, name: str, is_admin: bool = False) -> str:
    """Make a key for the principal and return it in clear — the only time it exists so. An admin
    key sees every principal's jobs; that comes from `is_admin` alone, never from the principal."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(
            principal_id=principal.id,
            prefix=prefix,
            key_hash=hash_key(key),
            name=name,
            is_admin=is_admin,
            created_at=utcnow(),
        )
    )
    session.flush()
    return key


def revoke_key(*, session: Session, prefix: str) -> bool:
    key = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).one_or_none()
    if key is None:
        return False
    key.revoked_at = utcnow()
    return True


def list_keys(*, session: Session) -> list[tuple[ApiKey, Principal]]:
    query = select(ApiKey, Principal).join(Principal).order_by(ApiKey.id)
    return [(key, principal) for key, principal in session.execute(query)]


def authenticate(*, session: Session, key: str, admin_key: str | None) -> Caller | None:
    """The caller a bearer key belongs to, or None for an unknown, malformed or revoked key."""
    if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
        admin = get_or_create_principal(session=session, name=ADMIN_PRINCIPAL)
        return Caller(admin.id, admin.name, True)
    if not key.startswith(KEY_PREFIX):
        return None
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    row = session.execute(
        select(ApiKey.key_hash, ApiKey.is_admin, Principal.id, Principal.name)
        .join(Principal)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    ).one_or_none()
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
        return None
    return Caller(row.id, row.name, row.is_admin)
