"""Database writes from a running job retry with backoff instead of failing the job:
an epoch of training is worth more than a few seconds of waiting for PostgreSQL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

T = TypeVar("T")
log = logging.getLogger(__name__)


def with_database_retry(write: Callable[[], T], *, what: str, attempts: int = 8, first_delay: float = 0.25) -> T:
    """Run `write`, retrying connection failures with exponential backoff (0.25 s … ~30 s)."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except OperationalError as exc:
            if attempt == attempts:
                raise
            log.warning(
                "%s failed (attempt %d/%d, retrying in %.2fs): %s",
                what,
                attempt,
                attempts,
                delay,
                type(exc.orig).__name__,
            )
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
    raise AssertionError("unreachable")
