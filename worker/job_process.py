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
from collections.abc import Callable
from types import FrameType

from core.process import exit_with_parent

log = logging.getLogger(__name__)
TERMINATE_GRACE_SECONDS = 30


class JobTerminated(Exception):
    """Raised inside the job's process when it is told to stop (time limit, shutdown)."""


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise JobTerminated(f"the job's process received signal {signal.Signals(signum).name}")


def run_in_fresh_process(target: Callable[[], None]) -> int:
    """Run `target` in a forked child and wait for it; returns the child's exit code.

    If waiting is interrupted (Celery's soft time limit raises here), the child gets
    SIGTERM — `target` sees JobTerminated and can record why — then SIGKILL after a grace.
    """
    pid = os.fork()
    if pid == 0:  # the job's process
        code = 1
        try:
            # a job whose pool child is gone has no one to report to: it dies too, and the reaper
            # requeues it from its last checkpoint (Celery asks the same for the pool child)
            exit_with_parent()
            signal.signal(signal.SIGTERM, _terminate)
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)  # Celery's soft-limit handler belongs to the pool child
            target()
            code = 0
        except BaseException:
            log.exception("job process failed")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)  # no atexit handlers or finalizers of the pool child
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except BaseException:
        os.kill(pid, signal.SIGTERM)
        _wait_or_kill(pid)
        raise


def _wait_or_kill(pid: int) -> None:
    signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
    signal.alarm(TERMINATE_GRACE_SECONDS)
    try:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    finally:
        signal.alarm(0)
