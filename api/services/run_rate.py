"""The rate of a principal's run points (POST /v1/runs/{id}/metrics): at most `per_minute` in each minute.

Counted in this API process's memory, not in the database like the submission quota: a counter row per
principal would serialize every batch of that principal on its lock, which is the ingest path's cost.
With N API processes a principal may therefore send up to N × the limit; the limit bounds abuse, and its
default is set above what a server ingests anyway (core/settings.py).
"""

from __future__ import annotations

import math
import threading
import time

from api.services.errors import QuotaExceeded

WINDOW_SECONDS = 60.0

_lock = threading.Lock()
_windows: dict[int, tuple[float, int]] = {}  # principal → (start of its current window, points in it)


def admit_points(*, principal_id: int, points: int, per_minute: int) -> None:
    """Count the batch's points against the principal's window, or raise QuotaExceeded saying when to retry."""
    now = time.monotonic()
    with _lock:
        start, used = _windows.get(principal_id, (now, 0))
        if now - start >= WINDOW_SECONDS:
            start, used = now, 0
        if used + points > per_minute:
            retry_after = max(1, math.ceil(start + WINDOW_SECONDS - now))
            raise QuotaExceeded(
                "rate_limited",
                f"at most {per_minute} run points a minute; {used} sent in this one, retry in {retry_after} s",
                retry_after,
            )
        _windows[principal_id] = (start, used + points)
