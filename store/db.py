"""Engines and sessions, one engine per process.

A forked Celery child must not reuse its parent's connections (they would be
shared sockets), so the engine is keyed by pid and made lazily in each process.

The API's submission path is asynchronous (api/routes/jobs.py): it writes through an
AsyncEngine on the same database (psycopg's async driver; aiosqlite for SQLite), so the
hottest request makes no thread hop. Everything else uses the synchronous engine.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings

_engines: dict[tuple[int, str], Engine] = {}
_async_engines: dict[tuple[int, str], AsyncEngine] = {}
_autocommit_engines: dict[AsyncEngine, AsyncEngine] = {}


def _forget_inherited_engines() -> None:
    # SQLAlchemy's advice for fork: the child must not use, or close, its parent's
    # pooled connections (they are the parent's sockets); drop them without closing.
    for key in [k for k in _engines if k[0] != os.getpid()]:
        _engines.pop(key).dispose(close=False)
    for key in [k for k in _async_engines if k[0] != os.getpid()]:
        _async_engines.pop(key).sync_engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_engines)


def _engine_options(url: str) -> dict[str, Any]:
    # hide_parameters: a logged error shows the SQL but not its bound values (specs, key prefixes, hashes).
    # No pool_pre_ping: its round trip on every checkout was ~10% of a submission (bench/service.py).
    # A connection the database dropped fails its first statement instead; SQLAlchemy then invalidates
    # the whole pool (every older connection is replaced), the API answers that one request 503
    # database_unavailable (which clients retry) and the worker's writes retry (worker/retry.py).
    options: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("sqlite"):
        # The API and the worker share one SQLite file: wait for the write lock instead
        # of failing at once, and let readers run beside a writer (WAL).
        options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        # 20: an API process serves up to ~16 requests at once under load; a smaller pool made
        # and dropped overflow connections (a PostgreSQL backend each) all through the bench.
        options.update(pool_size=20, max_overflow=20, pool_timeout=5)
        # a dead database must surface as an error quickly, never as a hang
        options["connect_args"] = {"connect_timeout": 3}
    return options


def make_engine(url: str) -> Engine:
    engine = create_engine(url, **_engine_options(url))
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_async_engine(url: str) -> AsyncEngine:
    """The async twin of make_engine: `postgresql+psycopg` takes psycopg's async driver as is;
    SQLite goes through aiosqlite."""
    async_url = url.replace("sqlite://", "sqlite+aiosqlite://", 1) if url.startswith("sqlite://") else url
    engine = create_async_engine(async_url, **_engine_options(url))
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
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


def get_async_engine(url: str | None = None) -> AsyncEngine:
    """This process's async engine. Its connections belong to the event loop that opened them:
    the API process's one loop (tests make their own engine per loop with make_async_engine)."""
    url = url or get_settings().database_url
    key = (os.getpid(), url)
    if key not in _async_engines:
        _async_engines[key] = make_async_engine(url)
    return _async_engines[key]


@asynccontextmanager
async def autocommit_connection(engine: AsyncEngine | None = None) -> AsyncIterator[AsyncConnection]:
    """A pooled async connection on which each statement commits by itself: one round trip for a
    one-statement write, where a transaction would add BEGIN and COMMIT (psycopg sends BEGIN as
    a statement of its own)."""
    engine = engine or get_async_engine()
    if engine not in _autocommit_engines:  # each execution_options() call builds an engine: ~4% of a submit's CPU
        _autocommit_engines[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with _autocommit_engines[engine].connect() as connection:
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
