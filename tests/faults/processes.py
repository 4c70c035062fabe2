"""Find a job's own process (the fork of a worker's pool child) to pause or kill it, and its checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

import torch


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, session id) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), int(fields[3])


def job_process(worker_pids: list[int], timeout: float = 30.0) -> tuple[int, int]:
    """(worker index, pid) of the job process running under one of the workers (each leads its own session):
    the worker's main process → its pool child → the job's fork."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid_dir in Path("/proc").iterdir():
            if not pid_dir.name.isdigit():
                continue
            me = _stat(int(pid_dir.name))
            parent = _stat(me[0]) if me is not None else None
            if me is None or parent is None:
                continue
            for index, worker in enumerate(worker_pids):
                if me[1] == worker and parent[0] == worker:
                    return index, int(pid_dir.name)
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
