"""Find a job's own process (the fork of a worker's pool child) to pause or kill it, and its checkpoint."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import torch
from sqlalchemy import create_engine, text


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, session id) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), int(fields[3])


def job_processes(worker_pids: list[int]) -> list[tuple[int, int]]:
    """(worker index, pid) of each job process running under the workers (each leads its own session):
    the worker's main process → its pool child → the job's fork. A job that has released its slot is
    among them while it diagnoses."""
    found = []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        me = _stat(int(pid_dir.name))
        parent = _stat(me[0]) if me is not None else None
        if me is None or parent is None:
            continue
        for index, worker in enumerate(worker_pids):
            if me[1] == worker and parent[0] == worker:
                found.append((index, int(pid_dir.name)))
    return found


def job_process(
    worker_pids: list[int], timeout: float = 30.0, excluding: frozenset[int] = frozenset()
) -> tuple[int, int]:
    """(worker index, pid) of a job process under one of the workers, other than those `excluding` names
    (an earlier job's, still diagnosing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for index, pid in job_processes(worker_pids):
            if pid not in excluding:
                return index, pid
        time.sleep(0.05)
    raise AssertionError(f"no job process under workers {worker_pids}")


def alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def checkpointed_epoch(directory: Path) -> int:
    """The epoch of the newest checkpoint file in `directory` (whatever this version of the trainer names it)."""
    files = sorted(directory.glob("*.pt"), key=lambda path: path.stat().st_mtime)
    if not files:
        return 0
    try:
        return int(torch.load(files[-1], weights_only=True)["epoch"])
    except (OSError, RuntimeError, EOFError):  # replaced while read
        return 0


def stopped(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "T"


def pause_mid_transaction(pid: int, database_url: str, timeout: float = 60.0) -> None:
    """SIGSTOP the process at a moment its open transaction has updated its job's row (so holds the row's
    lock): stop it, look at its connections' locks (store/db.py names them by pid in pg_stat_activity),
    let it go on and try again a moment later until one stop lands inside such a transaction."""
    engine = create_engine(database_url)
    writing = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE a.application_name = :name AND l.relation = 'jobs'::regclass AND l.mode = 'RowExclusiveLock'"
    )
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as connection:
            while True:
                assert alive(pid), f"process {pid} ended before it was paused"
                os.kill(pid, signal.SIGSTOP)
                while not stopped(pid) and alive(pid):
                    time.sleep(0.001)
                if connection.execute(writing, {"name": f"trainwell worker pid={pid}"}).scalar_one():
                    return
                os.kill(pid, signal.SIGCONT)
                assert time.monotonic() < deadline, f"process {pid} was never stopped inside a transaction"
                time.sleep(random.uniform(0.0, 0.01))
    finally:
        engine.dispose()
