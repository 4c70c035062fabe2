"""Bearer-key authentication with a short in-process cache.

Every request needs its caller; looking the key up in the database each time cost a
round trip and a commit per request. A verified key is remembered for
CACHE_SECONDS, so a revoked key stops working within that many seconds on each API
process (documented in the README), and unknown keys are never cached.
"""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from store.principals import Caller, authenticate, hash_key

CACHE_SECONDS = 10.0
CACHE_LIMIT = 10_000

_cache: dict[str, tuple[float, Caller]] = {}


def cached_caller(key: str) -> Caller | None:
    """The caller of a key verified less than CACHE_SECONDS ago; no I/O."""
    hit = _cache.get(hash_key(key))
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def resolve_caller(*, session: Session, key: str, admin_key: str | None) -> Caller | None:
    """The key's caller: from the cache, else from the database (and then cached)."""
    cached = cached_caller(key)
    if cached is not None:
        return cached
    caller = authenticate(session=session, key=key, admin_key=admin_key)
    if caller is None:
        return None
    session.commit()  # the admin principal may have been created on first use
    if len(_cache) >= CACHE_LIMIT:
        _cache.clear()
    _cache[hash_key(key)] = (time.monotonic() + CACHE_SECONDS, caller)
    return caller
