"""`make run`'s process supervision: start the API and the worker, restart one that crashes, and stop
every process they started, within a bounded time, on Ctrl-C or SIGTERM.

- Signals are blocked and taken with sigtimedwait(2) in the main loop, so no handler ever runs in
  the middle of the supervisor's own code: a handler that sets a threading.Event can deadlock on
  the lock the main thread's Event.wait holds, and the stack then never stops.
- The supervisor is a child subreaper: orphans of its tree come back to it, and it reaps them
  before it exits, so when it has stopped, every process it started is gone.
- Each child leads its own process group (so its whole tree can be signalled at once, and the
  terminal's Ctrl-C reaches only the supervisor) and asks the kernel to kill it when the supervisor
  dies (core.process.exit_with_parent): no orphan keeps the port after a SIGKILL or a closed terminal.
  Celery's pool child and each job's process ask the same of their own parents.
- Stopping: SIGTERM to each leader (Celery's warm shutdown lets a running epoch finish and its job
  resume later), then SIGKILL to each group after SHUTDOWN_GRACE_SECONDS or a second signal. An idle
  worker (no job's process below its pool child) has nothing to finish, while its warm shutdown takes
  4–7 s (a 2 s broker poll, then the pool child's exit): its group is killed at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.process import become_subreaper, children, exit_with_parent, reap_orphans

SIGNALS = {signal.SIGINT, signal.SIGTERM}
SHUTDOWN_GRACE_SECONDS = 10.0
# A crashed child is started again after these delays, one more step per crash in a row; one that
# then runs STABLE_SECONDS counts as recovered.
RESTART_DELAYS_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_SECONDS = 60.0
TICK_SECONDS = 0.2


def _in_child() -> None:
    # runs between fork and exec: the blocked signals are the supervisor's alone
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    exit_with_parent()


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str] | None = None
    # True for the worker: its group may be killed at once when no job's process runs below it
    idle_kill: bool = False
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    crashes: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, start_new_session=True, preexec_fn=_in_child)
        self.started_at, self.restart_at = time.monotonic(), None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def idle(self) -> bool:
        """No process two levels down: for the worker, no job's process under its pool child."""
        return self.process is not None and not any(children(pid) for pid in children(self.process.pid))

    def kill_group(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


def _say(message: str) -> None:
    print(f"trainwell: {message}", file=sys.stderr, flush=True)


def _watch(child: Child, now: float) -> None:
    """Restart a crashed child after its backoff delay."""
    assert child.process is not None
    if child.restart_at is None and child.process.poll() is not None:
        if now - child.started_at >= STABLE_SECONDS:
            child.crashes = 0
        delay = RESTART_DELAYS_SECONDS[min(child.crashes, len(RESTART_DELAYS_SECONDS) - 1)]
        child.crashes += 1
        child.restart_at = now + delay
        _say(f"the {child.name} exited with {child.process.returncode}; restarting it in {delay:.0f} s")
    elif child.restart_at is not None and now >= child.restart_at:
        child.start()


def supervise(
    processes: list[Child],
    *,
    ready: Callable[[], bool],
    on_ready: Callable[[], None],
    startup_seconds: float = 90.0,
) -> int:
    """Run the children until a signal; 0 after a signal, 1 when they did not come up."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    become_subreaper()
    try:
        for child in processes:
            child.start()
        deadline = time.monotonic() + startup_seconds
        serving = False
        while signal.sigtimedwait(SIGNALS, TICK_SECONDS) is None:
            now = time.monotonic()
            for child in processes:
                assert child.process is not None
                if not serving and child.process.poll() is not None:
                    _say(f"the {child.name} exited with {child.process.returncode} before it came up")
                    return 1
                _watch(child, now)
            # a crashed leader's children, re-parented to us: no zombie accumulates between restarts
            reap_orphans(keep=frozenset(c.process.pid for c in processes if c.process is not None))
            if not serving:
                if ready():
                    serving = True
                    on_ready()
                elif now > deadline:
                    _say(f"the stack did not come up within {startup_seconds:.0f} s")
                    return 1
        return 0
    finally:
        stop(processes)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def stop(processes: list[Child], grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
    """SIGTERM each leader, SIGKILL each group after `grace` (or at once for an idle worker, or on a
    second signal); returns when every leader has exited and every group has been killed."""
    for child in processes:
        if not child.running:
            continue
        if child.idle_kill and child.idle():
            child.kill_group()
        else:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)  # the leader only: it stops its own tree in order
    deadline = time.monotonic() + grace
    while any(child.running for child in processes) and time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # a second Ctrl-C: stop waiting
            if signal.sigtimedwait(SIGNALS, 0.05) is not None:
                break
    for child in processes:
        child.kill_group()  # the group, not just the leader: a pool child or a job's process must go too
        if child.process is not None:
            child.process.wait()
    reap_orphans(timeout=5.0)  # a killed leader's own children come to us as orphans
