"""`make run`: migrate, then start the API (uvicorn) and a real Celery worker process,
and supervise both. Ctrl-C or SIGTERM stops both; no process is left behind.

Each child runs in its own process group, so the whole group (the Celery parent and
its pool child) can be signalled at once, and the terminal's Ctrl-C reaches only
this supervisor, which then stops the children in order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from core.broker import QUEUES
from core.settings import Settings, get_settings
from store.db import session_scope
from store.migrate import upgrade_database
from store.principals import authenticate, create_key, get_or_create_principal

LOCAL_PRINCIPAL = "local"
# Celery's SIGTERM is a warm shutdown that waits for the running epoch loop to notice;
# past this grace the process group is killed (the job's row is then picked up again
# once its heartbeat goes stale).
SHUTDOWN_GRACE_SECONDS = 10.0


def ensure_local_key(settings: Settings) -> str:
    """Embedded mode's key for the local user: made on first start, kept in a 0600 file."""
    path = settings.key_file
    with session_scope() as session:
        if path.exists():
            key = path.read_text().strip()
            if authenticate(session=session, key=key, admin_key=None) is not None:
                return key
        principal = get_or_create_principal(session=session, name=LOCAL_PRINCIPAL)
        key = create_key(session=session, principal=principal, name="local key")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(path, 0o600)
    return key


def worker_command(hostname: str = "embedded@%h") -> list[str]:
    """The worker as `make run` starts it (and the tests, which start several)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.celery_app",
        "worker",
        "--queues",
        ",".join(QUEUES),
        "--concurrency",
        "1",
        "--loglevel",
        "INFO",
        "--hostname",
        hostname,
    ]


def api_command(settings: Settings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app",
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--no-access-log",
        *(["--workers", str(settings.api_workers)] if settings.api_workers > 1 else []),
    ]


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists():
            return True
        time.sleep(0.1)
    return False


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            # the leader only: Celery's warm shutdown lets its pool child finish cleanly
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        # the group, not just the leader: the Celery pool child must go too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> int:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database()
    key = ensure_local_key(settings) if settings.mode == "embedded" else None

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    ready_file = settings.data_dir.resolve() / f"worker-{os.getpid()}.ready"
    ready_file.unlink(missing_ok=True)
    worker_env = {**os.environ, "TRAINWELL_WORKER_READY_FILE": str(ready_file)}
    worker = subprocess.Popen(worker_command(), start_new_session=True, env=worker_env)
    api = subprocess.Popen(api_command(settings), start_new_session=True)
    processes = [api, worker]
    base = f"http://{settings.host}:{settings.port}"
    try:
        if not wait_until_serving(f"{base}/healthz", api):
            print("trainwell: the API did not come up", file=sys.stderr)
            return 1
        if not wait_for_file(ready_file, worker):
            print("trainwell: the worker did not come up", file=sys.stderr)
            return 1
        print(f"trainwell is serving {base}  —  API docs: {base}/docs", flush=True)
        if key is not None:
            print(f"local API key (also in {Path(settings.key_file).resolve()}): {key}", flush=True)
        while not stopping.wait(0.5):
            for process in processes:
                if process.poll() is not None:
                    name = "API" if process is api else "worker"
                    print(f"trainwell: the {name} exited with {process.returncode}; stopping", file=sys.stderr)
                    return 1
        return 0
    finally:
        stop(processes)
        ready_file.unlink(missing_ok=True)
        print("trainwell stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
