"""Start the real thing for service tests: `python -m api.serve` (the `make run` command),
which migrates and supervises uvicorn and a Celery worker, on embedded SQLite or on
PostgreSQL + Redis. Each run gets its own PostgreSQL database and Redis db number."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.serve import api_command, wait_until_serving, worker_command
from core.settings import Settings
from store.db import make_engine
from store.migrate import upgrade_database
from store.principals import create_key, get_or_create_principal

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RUN_LOCK_KEY = "trainwell-test-run"
IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_service(name: str, reachable: bool) -> None:
    """In CI the production-mode tests must run: an absent service fails them, elsewhere it skips them."""
    if reachable:
        return
    if IN_CI:
        pytest.fail(f"{name} is not answering on 127.0.0.1 and CI=true: production-mode tests must run")
    pytest.skip(f"{name} is not answering on 127.0.0.1; start it to run production-mode tests")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database for this run on the shared server, dropped afterwards."""
    import psycopg

    require_service("PostgreSQL", _answers(5432))
    name = f"trainwell_test_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def empty_database(kind: str, tmp: Path) -> Iterator[str]:
    """The URL of an empty database: "sqlite", a file in `tmp`; "postgresql", postgres_database's."""
    if kind == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'empty.sqlite'}"


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis db number no other run holds: the first of 1..15 whose run lock we can take.
    Only our own keys are removed afterwards; the shared server is never flushed."""
    import redis

    require_service("Redis", _answers(REDIS_PORT))
    run_id = secrets.token_hex(8)
    for db in range(1, 16):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
        if client.set(RUN_LOCK_KEY, run_id, nx=True, ex=3600):
            try:
                yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
            finally:
                for key in client.scan_iter(count=1000):
                    client.delete(key)
                client.close()
            return
        client.close()
    pytest.fail("no free Redis db number among 1..15 for this test run")


@dataclass
class Stack:
    base_url: str
    database_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)

    def new_key(self, principal: str) -> str:
        return new_key(self.database_url, principal)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-20000:]


def start_stack(tmp: Path, *, database_url: str | None = None, broker_url: str | None = None, **settings: str) -> Stack:
    """`python -m api.serve` on SQLite (or the given database and broker); `settings` become TRAINWELL_* variables."""
    port = free_port()
    data_dir = tmp / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINWELL_")}
    env.update(PYTHONUNBUFFERED="1", TRAINWELL_DATA_DIR=str(data_dir), TRAINWELL_PORT=str(port))
    env.update({f"TRAINWELL_{name.upper()}": value for name, value in settings.items()})
    if database_url:
        env.update(
            TRAINWELL_MODE="production", TRAINWELL_DATABASE_URL=database_url, TRAINWELL_BROKER_URL=broker_url or ""
        )
    log_path = tmp / "stack.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    stack = Stack(
        f"http://127.0.0.1:{port}",
        database_url or f"sqlite:///{(data_dir / 'trainwell.sqlite').resolve()}",
        data_dir,
        process,
        log_path,
    )
    deadline = time.monotonic() + 90
    while "trainwell is serving" not in stack.log():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_stack(stack)
            raise RuntimeError(f"the stack did not start:\n{stack.log()}")
        time.sleep(0.2)
    return stack


def stop_stack(stack: Stack) -> int | None:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
        try:
            stack.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait()
    return stack.process.returncode


def poll(
    read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool], what: str, timeout: float, every: float
) -> dict[str, Any]:
    """read() every `every` seconds until done(it) holds; fail naming `what` and the last reading otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        body = read()
        if done(body):
            return body
        assert time.monotonic() < deadline, f"{what} in {timeout}s; last: {body}"
        time.sleep(every)


def wait_for(client: httpx.Client, job_id: str, predicate: Any, timeout: float = 240.0) -> dict[str, Any]:
    """Poll the job until predicate(job) holds; fail with the last state otherwise."""
    return poll(
        lambda: client.get(f"/v1/jobs/{job_id}").json(),
        predicate,
        f"job {job_id} did not reach the expected state",
        timeout,
        every=0.1,
    )


def finished(job: dict[str, Any]) -> bool:
    return job.get("status") in {"succeeded", "failed", "cancelled"}


def wait_for_diagnosis(
    client: httpx.Client, job_id: str, statuses: Collection[str] = ("ready",), timeout: float = 240.0
) -> dict[str, Any]:
    """Poll the job's diagnosis until its status is one of `statuses` (every finished job gets one)."""

    def read() -> dict[str, Any]:
        response = client.get(f"/v1/jobs/{job_id}/diagnosis")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return poll(
        read, lambda body: body["status"] in statuses, f"diagnosis of {job_id} not {statuses}", timeout, every=0.2
    )


def wait_for_sweep(client: httpx.Client, sweep_id: str, timeout: float = 300) -> dict[str, Any]:
    """Poll the sweep until it has ended; its table is then computed once and kept."""
    return poll(
        lambda: client.get(f"/v1/sweeps/{sweep_id}").json(),
        lambda sweep: sweep["status"] != "running",
        f"sweep {sweep_id} did not end",
        timeout,
        every=0.2,
    )


def wait_for_landscape(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll a requested loss landscape until it is ready or failed."""
    return poll(
        lambda: client.get(f"/v1/jobs/{job_id}/landscape").json(),
        lambda body: body["status"] in {"ready", "failed"},
        f"no landscape for {job_id}",
        timeout,
        every=0.2,
    )


@dataclass
class Services:
    """The API and workers as separate processes, for tests that kill and restart them."""

    tmp: Path
    env: dict[str, str]
    base_url: str
    database_url: str
    broker_url: str
    api: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["TRAINWELL_DATA_DIR"])

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def start_api(self, *, workers: int = 1) -> None:
        """The API as `make run` starts it (api.serve.api_command), on this stack's port."""
        command = api_command(Settings(port=int(self.base_url.rsplit(":", 1)[1]), api_workers=workers))
        with open(self.tmp / "api.log", "ab") as log:
            self.api = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        assert wait_until_serving(f"{self.base_url}/healthz", self.api), "the API did not start"

    def start_worker(self) -> subprocess.Popen[bytes]:
        """A Celery worker in its own process group (so a test can kill -9 all of it); returns once it consumes."""
        n = len(self.workers)
        ready = self.tmp / f"worker-{n}.ready"
        env = {**self.env, "TRAINWELL_WORKER_READY_FILE": str(ready)}
        command = worker_command(hostname=f"w{n}@%h")
        with open(self.worker_log_path(n), "ab") as log:
            worker = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.workers.append(worker)
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert time.monotonic() < deadline and worker.poll() is None, f"worker {n} did not start"
            time.sleep(0.1)
        return worker

    def worker_log_path(self, n: int) -> Path:
        return self.tmp / f"worker-{n}.log"

    def worker_logs(self) -> str:
        return "\n".join(self.worker_log_path(n).read_text(errors="replace") for n in range(len(self.workers)))

    def stop(self) -> None:
        for process in [*self.workers, *([self.api] if self.api else [])]:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL) if process in self.workers else process.terminate()
            process.wait(timeout=30)


def make_services(tmp: Path, *, database_url: str, broker_url: str, **settings: str) -> Services:
    """Migrated database, settings as TRAINWELL_* variables (e.g. lease_seconds="2"), nothing started yet."""
    from store.migrate import upgrade_database

    upgrade_database(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINWELL_")}
    env.update(
        PYTHONUNBUFFERED="1",
        TRAINWELL_MODE="production",
        TRAINWELL_DATA_DIR=str(tmp / "var"),
        TRAINWELL_DATABASE_URL=database_url,
        TRAINWELL_BROKER_URL=broker_url,
    )
    env.update({f"TRAINWELL_{name.upper()}": value for name, value in settings.items()})
    return Services(tmp, env, f"http://127.0.0.1:{free_port()}", database_url, broker_url)


def migrated_session(url: str) -> Iterator[Session]:
    """A session on the database at `url`, migrated to head first; its engine disposed afterwards."""
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with sessionmaker(engine, expire_on_commit=False)() as session:
            yield session
    finally:
        engine.dispose()


@contextmanager
def fault_services(tmp: Path, **settings: str) -> Iterator[Services]:
    """An API (its workers are the test's to start) on a PostgreSQL database and a Redis db of its own,
    with the short heartbeat, lease and reaper interval a fault test needs to see a lost worker within
    seconds; `settings` add to or override them."""
    quick = {"heartbeat_seconds": "0.2", "lease_seconds": "2", "reaper_interval_seconds": "0.5"}
    with postgres_database() as database_url, redis_database() as broker_url:
        running = make_services(tmp, database_url=database_url, broker_url=broker_url, **(quick | settings))
        running.start_api()
        try:
            yield running
        finally:
            running.stop()


def new_key(database_url: str, principal: str) -> str:
    engine = make_engine(database_url)
    try:
        with sessionmaker(engine)() as session, session.begin():
            owner = get_or_create_principal(session=session, name=principal)
            return create_key(session=session, principal=owner, name=principal)
    finally:
        engine.dispose()
