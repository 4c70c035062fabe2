"""Processes that die with their parent, and the view of a process tree that stopping one needs (Linux)."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1  # prctl(2)
PR_SET_CHILD_SUBREAPER = 36


def exit_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent exits, however the parent dies
    (SIGKILL, OOM, a closed terminal): a supervisor's children never outlive it as orphans holding
    its port. prctl(2) PR_SET_PDEATHSIG; survives exec, not fork, so each generation asks for itself.
    A parent that dies during the request leaves us re-parented: then exit at once."""
    parent = os.getppid()
    _prctl(PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def become_subreaper() -> None:
    """Orphans anywhere below this process are re-parented to it rather than to init, so it can reap
    them: a supervisor that killed a tree can tell when all of it is gone (prctl(2) PR_SET_CHILD_SUBREAPER)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def reap_orphans(*, timeout: float = 0.0, keep: frozenset[int] = frozenset()) -> None:
    """Reap this process's children other than `keep` (adopted orphans, once they exit), waiting up
    to `timeout` seconds for those still alive. `keep`: children whose exit code a Popen still reads."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = False
        for pid in children(os.getpid()):
            if pid in keep:
                continue
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            waiting = waiting or done == 0
        if not waiting or time.monotonic() >= deadline:
            return
        time.sleep(0.02)


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid`, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the command name may hold spaces and parentheses: the fields start after the last ')'
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children first."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        below = [child for parent in frontier for child in children(parent)]
        found += below
        frontier = below
    return found
