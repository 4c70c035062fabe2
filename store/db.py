"""Engines and sessions, one engine per process.

A forked Celery child must not reuse its parent's connections (they would be
shared sockets), so the engine is keyed by pid and made lazily in each process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from store.settings import get_settings

_engines: dict[tuple[int, str], Engine] = {}


def _forget_inherited_engines() -> None:
    # SQLAlchemy's advice for fork: the child must not use, or close, its parent's
    # pooled connections (they are the parent's sockets); drop them without closing.
    for key in [k for k in _engines if k[0] != os.getpid()]:
        _engines.pop(key).dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_engines)


def make_engine(url: str) -> Engine:
    # hide_parameters: a logged error shows the SQL but not its bound values (specs, key prefixes, hashes).
    # No pool_pre_ping: its round trip on every checkout was ~10% of a submission (bench/service.py).
    # A connection the database dropped fails its first statement instead; SQLAlchemy then invalidates
    # the whole pool (every older connection is replaced), the API answers that one request 503
    # database_unavailable (which clients retry) and the worker's writes retry (worker/retry.py).
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("sqlite"):
        # The API's threads and the worker share one SQLite file: wait for the write
        # lock instead of failing at once, and let readers run beside a writer (WAL).
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs.update(pool_size=20, max_overflow=20, pool_timeout=5)
        # a dead database must surface as an error quickly, never as a hang
        kwargs["connect_args"] = {"connect_timeout": 3}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().database_url
    key = (os.getpid(), url)
    if key not in _engines:
        _engines[key] = make_engine(url)
    return _engines[key]


_sessionmakers: dict[Engine, sessionmaker[Session]] = {}


def session_factory() -> sessionmaker[Session]:
    engine = get_engine()
    if engine not in _sessionmakers:
        _sessionmakers[engine] = sessionmaker(engine, expire_on_commit=False)
    return _sessionmakers[engine]


@contextmanager
def autocommit_connection() -> Iterator[Connection]:
    """A pooled connection on which each statement commits by itself: one round trip for a
    one-statement write, where a transaction would add BEGIN and COMMIT (psycopg sends BEGIN
    as a statement of its own)."""
    with get_engine().execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        yield connection


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with session_factory()() as session, session.begin():
        yield session


def upsert_insert(session: Session, table: Any) -> Any:
    """`INSERT` with `ON CONFLICT` support for the session's database (PostgreSQL or SQLite)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(table)
