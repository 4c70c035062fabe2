"""A job's process frees its worker slot when it ends or says so, whatever it forked."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from worker.job_process import reap_detached, run_detachable

HELPER_SECONDS = 20


def _forking_job(pid_file: Path, *, release: bool) -> Callable[[Callable[[], None]], None]:
    """A job that forks a long-lived helper (as a DataLoader forks its workers), then releases or fails."""

    def job(release_slot: Callable[[], None]) -> None:
        pid = os.fork()
        if pid == 0:
            time.sleep(HELPER_SECONDS)
            os._exit(0)
        pid_file.write_text(str(pid))
        if release:
            release_slot()
            os.waitpid(pid, 0)  # the job carries on after its release (its diagnosis)
        raise RuntimeError("the job failed")

    return job


def _running(pid_file: Path) -> bool:
    """Alive and not a zombie (an orphan may wait a while for its new parent to reap it)."""
    try:
        stat = Path(f"/proc/{int(pid_file.read_text())}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def _kill(pid_file: Path) -> None:
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_a_job_that_ends_is_waited_for_not_the_processes_it_forked(tmp_path: Path) -> None:
    """The helper inherits the job's open files; the pool child must not read its end of file only when
    the helper exits too."""
    helper = tmp_path / "helper"
    try:
        assert run_detachable(_forking_job(helper, release=False)) == 1
        assert _running(helper), "the job's end was read before its helper's"
    finally:
        _kill(helper)


def test_a_release_frees_the_slot_while_the_job_carries_on(tmp_path: Path) -> None:
    helper = tmp_path / "helper"
    try:
        assert run_detachable(_forking_job(helper, release=True)) == 0
        assert _running(helper)
    finally:
        _kill(helper)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reap_detached()
            from worker.job_process import _detached

            if not _detached:
                break
            time.sleep(0.1)


def test_a_jobs_process_trains_on_the_configured_cpu_threads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each forked process sets torch's intra-op threads from TRAINWELL_TORCH_THREADS: left at torch's
    default (every core) in each of a worker's processes, a small model's fit on a busy 2-core machine was
    5-8x slower. 3 is no machine's default here (half the cores), so the setting alone explains it."""
    import torch

    from core.settings import get_settings

    monkeypatch.setenv("TRAINWELL_TORCH_THREADS", "3")
    get_settings.cache_clear()
    seen = tmp_path / "threads"
    try:
        code = run_detachable(lambda _release: seen.write_text(str(torch.get_num_threads())))
    finally:
        get_settings.cache_clear()
    assert code == 0 and seen.read_text() == "3"
