"""Each job runs in a fresh process forked from the worker's long-lived pool child.

Why not Celery's own recycling (worker_max_tasks_per_child=1)? A recycled pool child
sleeps a second before it exits (billiard's _do_exit) and the replacement must be
forked and report back before the next message is handed over: 1–4 s between two
jobs here. Forking per job gives the same isolation — CUDA is initialised only in the
job's process, and all its GPU memory goes when it exits (celery#6009) — while the
pool child, which imported torch but never touched CUDA, is ready at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

import torch

from core.process import exit_with_parent
from core.settings import get_settings

log = logging.getLogger(__name__)
TERMINATE_GRACE_SECONDS = 30


class JobTerminated(Exception):
    """Raised inside the job's process when it is told to stop (time limit, shutdown)."""


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise JobTerminated(f"the job's process received signal {signal.Signals(signum).name}")


# Processes that told their task they were done with its slot and carry on (a job's diagnosis): the
# pool child reaps them when they end, and waits for them before it exits. At most one per slot: a job
# that releases while its predecessor still diagnoses is released once that one has ended, so a slot
# holds one training and one diagnosis (their CPU, memory and database connections) at a time.
_detached: set[int] = set()
DETACHED_GRACE_SECONDS = 120


def run_in_fresh_process(target: Callable[[], None]) -> int:
    """Run `target` in a forked child and wait for it; returns the child's exit code."""
    return run_detachable(lambda _release: target())


def run_detachable(target: Callable[[Callable[[], None]], None]) -> int:
    """Run `target(release)` in a forked child and wait for it to exit, or to call `release()`: the task
    then returns (its worker slot takes the next message) while the child carries on; returns the child's
    exit code, or 0 once released.

    If waiting is interrupted (Celery's soft time limit raises here), the child gets
    SIGTERM — `target` sees JobTerminated and can record why — then SIGKILL after a grace.
    """
    reap_detached()
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:  # the job's process
        os.close(readable)
        release = _Release(writable)
        # a process the job forks in turn (a DataLoader's workers) must not hold the pipe open: the pool
        # child would read its end of file only once they had exited too
        os.register_at_fork(after_in_child=release.forget)
        code = 1
        try:
            # a job whose pool child is gone has no one to report to: it dies too, and the reaper
            # requeues it from its last checkpoint (Celery asks the same for the pool child)
            exit_with_parent()
            signal.signal(signal.SIGTERM, _terminate)
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)  # Celery's soft-limit handler belongs to the pool child
            torch.set_num_threads(get_settings().torch_threads)
            target(release)
            code = 0
        except BaseException:
            log.exception("job process failed")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)  # no atexit handlers or finalizers of the pool child
    os.close(writable)
    try:
        with os.fdopen(readable, "rb") as pipe:
            if pipe.read(1):  # released; an exit without a release reads end of file
                # one diagnosis beside one training per slot: the one before this one ends first
                _wait_for_all_detached()
                _detached.add(pid)
                return 0
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except BaseException:
        os.kill(pid, signal.SIGTERM)
        _wait_or_kill(pid)
        raise


class _Release:
    """The job process's end of the pipe: calling it tells the pool child the slot is free."""

    def __init__(self, writable: int) -> None:
        self.writable: int | None = writable

    def __call__(self) -> None:
        if self.writable is not None:
            with contextlib.suppress(OSError):
                os.write(self.writable, b"r")
            self.forget()

    def forget(self) -> None:
        """Close the pipe here; once closed its number may name another file, which is left alone."""
        if self.writable is not None:
            with contextlib.suppress(OSError):
                os.close(self.writable)
            self.writable = None


def reap_detached() -> None:
    """Collect the detached processes that have ended (no zombies)."""
    for pid in list(_detached):
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                continue
        _detached.discard(pid)


def _wait_for_all_detached() -> None:
    for pid in list(_detached):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        _detached.discard(pid)


def wait_for_detached(grace: float = DETACHED_GRACE_SECONDS) -> None:
    """The pool child is exiting (a warm shutdown): let its detached processes finish, within `grace`;
    one still running after it dies with the pool child, and the reaper makes its work again."""
    deadline = time.monotonic() + grace
    while _detached and time.monotonic() < deadline:
        reap_detached()
        time.sleep(0.1)


def _wait_or_kill(pid: int) -> None:
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.alarm(TERMINATE_GRACE_SECONDS)
    try:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    finally:
        signal.alarm(0)
