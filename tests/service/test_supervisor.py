"""`make run`'s supervisor stops every process it started on each signal, leaves no orphan when it is
killed itself, refuses a port that is taken, and restarts a crashed child."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.supervisor import SHUTDOWN_GRACE_SECONDS
from core.process import children, descendants
from tests.stack import ROOT, free_port, start_stack, wait_for

# a stack that is stopping stops within the grace, plus the time its leaders take to be reaped
STOP_BOUND_SECONDS = SHUTDOWN_GRACE_SECONDS + 10


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _left(pids: list[int], wait: float = 0.0) -> list[int]:
    deadline = time.monotonic() + wait
    while True:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


@pytest.mark.parametrize("signum", [signal.SIGINT] * 10 + [signal.SIGTERM] * 10)
def test_every_signal_stops_every_process_the_stack_started(tmp_path: Path, signum: int) -> None:
    stack = start_stack(tmp_path)
    tree = descendants(stack.process.pid)
    assert len(tree) >= 3, f"expected uvicorn, the Celery worker and its pool child, found {tree}"
    stack.process.send_signal(signum)
    code = stack.process.wait(timeout=STOP_BOUND_SECONDS)
    assert code == 0, stack.log()
    assert "trainwell stopped" in stack.log()
    assert not _left(tree), f"processes left after {signal.Signals(signum).name}: {_left(tree)}\n{stack.log()}"


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    tree = descendants(stack.process.pid)
    stack.process.kill()
    stack.process.wait()
    assert not _left(tree, wait=10), f"orphans of a SIGKILLed supervisor: {_left(tree)}"
    with pytest.raises(httpx.TransportError):  # nobody holds the port
        httpx.get(f"{stack.base_url}/healthz", timeout=2)


def test_a_taken_port_is_refused_by_name(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINWELL_")}
        env.update(TRAINWELL_DATA_DIR=str(tmp_path / "var"), TRAINWELL_PORT=str(port))
        result = subprocess.run(
            [sys.executable, "-m", "api.serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "serving" not in result.stdout
    assert not (tmp_path / "var").exists(), "nothing is written for a stack that cannot start"


def test_a_crashed_worker_is_restarted_while_the_api_stays_up(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    try:
        client = stack.client((stack.data_dir / "api_key").read_text().strip())
        worker = next(
            pid for pid in children(stack.process.pid) if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while "the worker exited with -9; restarting it" not in stack.log():
            assert time.monotonic() < deadline, stack.log()
            assert client.get("/healthz").status_code == 200, "the API must stay up while the worker restarts"
            time.sleep(0.2)
        job = client.post(
            "/v1/jobs", json={"dataset": {"name": "iris"}, "epochs": 2, "diagnosis": {"probes": False}}
        ).json()
        done = wait_for(client, job["id"], lambda j: j["status"] in ("succeeded", "failed"), timeout=180)
        assert done["status"] == "succeeded", done
        assert stack.process.poll() is None, "only a signal stops the stack"
    finally:
        stack.process.send_signal(signal.SIGTERM)
        assert stack.process.wait(timeout=STOP_BOUND_SECONDS) == 0
