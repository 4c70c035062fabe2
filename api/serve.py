"""`make run`: migrate, then start the API (uvicorn) and a real Celery worker process, and
supervise both (api/supervisor.py): a crashed one is restarted, Ctrl-C or SIGTERM stops both with
every process they started, and nothing outlives the supervisor.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pydantic import ValidationError

from api.supervisor import Child, supervise
from core.broker import GPU_QUEUE, TRAIN_QUEUE
from core.devices import gpu_names
from core.settings import Settings, get_settings
from store.db import session_scope
from store.migrate import upgrade_database
from store.principals import authenticate, create_key, get_or_create_principal

LOCAL_PRINCIPAL = "local"


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


def worker_queues() -> list[str]:
    """TRAINWELL_WORKER_QUEUES, else `train`, and `gpu` (cuda jobs) only on a host with a GPU: a CPU
    worker that took a cuda job could only fail it."""
    configured = get_settings().worker_queues
    if configured:
        return configured
    return [TRAIN_QUEUE, GPU_QUEUE] if gpu_names() else [TRAIN_QUEUE]


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
        ",".join(worker_queues()),
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
        if api_answers(url):
            return True
        time.sleep(0.2)
    return False


def api_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def port_taken(host: str, port: int) -> bool:
    """Whether a server holds the port already: one answering there would pass for this stack's API."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def refusal(error: ValidationError) -> str:
    """A refused configuration in one line per problem, naming the variables (never their values)."""
    lines = []
    for item in error.errors():
        where = "".join(f"TRAINWELL_{str(part).upper()}: " for part in item["loc"][:1])  # a field's, or none
        lines.append(f"trainwell: {where}{item['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def main() -> int:
    try:
        settings = get_settings()
    except ValidationError as error:  # before anything starts: no child to stop, nothing written
        print(refusal(error), file=sys.stderr)
        return 2
    if port_taken(settings.host, settings.port):
        print(
            f"trainwell: {settings.host}:{settings.port} is already in use (another trainwell?); "
            "stop that server or choose another port with TRAINWELL_PORT",
            file=sys.stderr,
        )
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database()
    key = ensure_local_key(settings) if settings.mode == "embedded" else None

    ready_file = settings.data_dir.resolve() / f"worker-{os.getpid()}.ready"
    ready_file.unlink(missing_ok=True)
    worker_env = {**os.environ, "TRAINWELL_WORKER_READY_FILE": str(ready_file)}
    base = f"http://{settings.host}:{settings.port}"

    def ready() -> bool:
        return ready_file.exists() and api_answers(f"{base}/healthz")

    def announce() -> None:
        print(f"trainwell is serving {base}  —  API docs: {base}/docs", flush=True)
        if key is not None:
            print(f"local API key (also in {Path(settings.key_file).resolve()}): {key}", flush=True)

    children = [
        Child("API", api_command(settings), env={**os.environ, "TRAINWELL_EXIT_WITH_PARENT": "true"}),
        Child("worker", worker_command(), env=worker_env, idle_kill=True),
    ]
    try:
        return supervise(children, ready=ready, on_ready=announce)
    finally:
        ready_file.unlink(missing_ok=True)
        print("trainwell stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
