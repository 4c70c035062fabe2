"""A worker announces itself while it consumes: its hostname, queues and devices, and a heartbeat every
reaper interval, from a thread of its main process. The API reads them to refuse a job no live worker
would take (a `cuda` job with no GPU worker) and lists them at GET /v1/workers."""

from __future__ import annotations

import logging
import threading
from typing import Any

from core.devices import devices
from core.settings import Settings
from store.db import session_scope
from store.workers import record_worker, retire_worker

log = logging.getLogger(__name__)


class Presence:
    def __init__(self, stop: threading.Event, thread: threading.Thread) -> None:
        self._stop, self._thread = stop, thread

    def end(self, timeout: float = 2.0) -> None:
        """Retire the worker now (a clean shutdown), waiting at most `timeout` for the database."""
        self._stop.set()
        self._thread.join(timeout)


def start_presence(settings: Settings, *, hostname: str, queues: list[str]) -> Presence:
    """Announce the worker and heartbeat until `end()`; then retire it."""
    stop = threading.Event()
    found: list[dict[str, Any]] = devices()

    def beat(starting: bool) -> bool:
        try:
            with session_scope() as session:
                record_worker(session=session, hostname=hostname, queues=queues, devices=found, starting=starting)
            return True
        except Exception:  # the database is down: the next round tries again
            log.warning("worker presence not recorded; retrying in %.0fs", settings.reaper_interval_seconds)
            return False

    def loop(announced: bool) -> None:
        while not stop.wait(settings.reaper_interval_seconds):
            announced = beat(starting=not announced) or announced
        try:
            with session_scope() as session:
                retire_worker(session=session, hostname=hostname)
        except Exception:
            log.warning("worker %s not retired; it ages out after %.0fs", hostname, settings.lease_seconds)

    # announced before the worker reports itself ready: a job submitted then finds it listed
    announced = beat(starting=True)
    thread = threading.Thread(target=loop, args=(announced,), name="trainwell-presence", daemon=True)
    thread.start()
    return Presence(stop, thread)
