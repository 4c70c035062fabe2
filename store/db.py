"""Engines and sessions, one engine per process.

A forked Celery child must not reuse its parent's connections (they would be
shared sockets), so the engine is keyed by pid and made lazily in each process.

The API's submission path is asynchronous (api/services/submission.py): it writes through an
AsyncEngine on the same database (psycopg's async driver; aiosqlite for SQLite), so the
hottest request makes no thread hop. Everything else uses the synchronous engine.

Every pool on a database server is capped by the settings and never overflows, so a deployment's
connections stay under the server's max_connections whatever its load (docs/configuration.md,
"Database connections"): a request past its process's pool waits for a connection (up to
TRAINWELL_DATABASE_POOL_TIMEOUT_SECONDS, then 503) instead of opening one the server refuses.
An API process caps its two engines at TRAINWELL_API_DATABASE_CONNECTIONS together (api/main.py
calls use_api_pools); any other process (the worker's main process with its reaper, its pool
child, each job's own process, a migration) caps each engine at TRAINWELL_WORKER_DATABASE_CONNECTIONS.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any, cast

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings, get_settings

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


_serves_api = False


def use_api_pools() -> None:
    """This process serves the API: its engines get the API's pools. Call before its first query."""
    global _serves_api
    _serves_api = True


def pool_sizes(settings: Settings, *, serves_api: bool) -> tuple[int, int]:
    """The connections one process's synchronous and asynchronous engines may each hold at most.

    An API process splits its share: a third (at least one) for the submission path's inserts, one
    short statement each, and the rest for the sessions of every other request, which keep theirs
    until the request ends. Outside the API every engine is used by one thread at a time (the reaper,
    a job's reporter), so the worker's share caps each engine alone; the async engine is the API's.
    """
    if not serves_api:
        return settings.worker_database_connections, settings.worker_database_connections
    submissions = max(1, settings.api_database_connections // 3)
    return settings.api_database_connections - submissions, submissions


def _engine_options(url: str, pool_size: int, *, serves_api: bool) -> dict[str, Any]:
    # hide_parameters: a logged error shows the SQL but not its bound values (specs, key prefixes, hashes).
    # No pool_pre_ping: it adds a round trip to every checkout, a sizeable share of a submission (bench/service.py).
    # A connection the database dropped fails its first statement instead; SQLAlchemy then invalidates
    # the whole pool (every older connection is replaced), the API answers that one request 503
    # database_unavailable (which clients retry) and the worker's writes retry (worker/retry.py).
    options: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("sqlite"):
        # The API and the worker share one SQLite file: wait for the write lock instead
        # of failing at once, and let readers run beside a writer (WAL).
        options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        # max_overflow=0: the pool is the cap (module docstring); a checkout past it waits
        options.update(pool_size=pool_size, max_overflow=0, pool_timeout=get_settings().database_pool_timeout_seconds)
        # a dead database must surface as an error quickly, never as a hang; pg_stat_activity names the
        # process each connection serves
        role = "api" if serves_api else "worker"
        connect_args: dict[str, Any] = {"connect_timeout": 3, "application_name": f"trainwell {role} pid={os.getpid()}"}
        if not serves_api:
            # A worker's transactions are a few statements each. One left open by a process that stopped
            # between them (frozen, paused, stuck in a GC or swap) holds its job's row lock, and the
            # reaper's update of that row would wait for it as long as the process stays stopped: the
            # server ends such a session after a lease, when the job counts as lost anyway, and the
            # process's next write finds its attempt superseded.
            timeout_ms = max(1000, int(get_settings().lease_seconds * 1000))
            connect_args["options"] = f"-c idle_in_transaction_session_timeout={timeout_ms}"
        options["connect_args"] = connect_args
    return options


def make_engine(url: str) -> Engine:
    sync_pool, _ = pool_sizes(get_settings(), serves_api=_serves_api)
    engine = create_engine(url, **_engine_options(url, sync_pool, serves_api=_serves_api))
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_async_engine(url: str) -> AsyncEngine:
    """The async twin of make_engine: `postgresql+psycopg` takes psycopg's async driver as is;
    SQLite goes through aiosqlite."""
    async_url = url.replace("sqlite://", "sqlite+aiosqlite://", 1) if url.startswith("sqlite://") else url
    _, async_pool = pool_sizes(get_settings(), serves_api=_serves_api)
    engine = create_async_engine(async_url, **_engine_options(url, async_pool, serves_api=_serves_api))
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


def ping() -> None:
    """One round trip to the database; raises when it does not answer (the readiness check)."""
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


class ReleasingSession(Session):
    """A session that hands back its turn (open_request_session) when it is closed, once."""

    release_turn: Callable[[], None] | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            release, self.release_turn = self.release_turn, None
            if release is not None:
                release()


_sessionmakers: dict[Engine, sessionmaker[Session]] = {}


def session_factory() -> sessionmaker[Session]:
    engine = get_engine()
    if engine not in _sessionmakers:
        _sessionmakers[engine] = sessionmaker(engine, class_=ReleasingSession, expire_on_commit=False)
    return _sessionmakers[engine]


_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


async def open_request_session() -> Session:
    """A request's session, once it is the request's turn: fewer requests than the synchronous pool has
    connections may hold a session at once (the others wait here, in the event loop), so the pool's last
    connection is always free or held by a running thread and every request progresses.

    Without turns a burst deadlocks the pool: a request's session keeps its connection between its thread
    hops (a dependency, the endpoint, the close), and with every connection held by requests awaiting
    their next hop, the thread pool can fill with newer requests blocked on the pool, until the pool
    timeout fails them (fastapi#3205). The spare connection serves the short sessions that hold one
    within a single hop (live streams' reads, /metrics, /readyz). Closing the session ends the turn.
    """
    loop = asyncio.get_running_loop()
    turns = _turns.get(loop)
    if turns is None:
        sync_pool, _ = pool_sizes(get_settings(), serves_api=_serves_api)
        turns = _turns[loop] = asyncio.Semaphore(max(1, sync_pool - 1))
    await turns.acquire()
    try:
        session = session_factory()()
    except BaseException:
        turns.release()
        raise

    def release_turn() -> None:
        # a session is closed on the event loop or in a worker thread: release on the loop either way
        with suppress(RuntimeError):  # the loop is closed (shutdown): nobody waits for a turn any more
            loop.call_soon_threadsafe(turns.release)

    cast(ReleasingSession, session).release_turn = release_turn
    return session


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
    if engine not in _autocommit_engines:  # each execution_options() call builds an engine, too costly on every submit
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
