"""Structured log lines for the worker: every line carries the job id and attempt it
belongs to, so `grep job=<id>` follows one job across claim, training, retries and reaping.

    2026-11-27 08:41:30,123 level=INFO process=ForkPoolWorker-1 logger=worker.tasks job=3f2c… attempt=2 training
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery.signals import after_setup_logger

LINE_FORMAT = "%(asctime)s level=%(levelname)s process=%(processName)s logger=%(name)s job=%(job)s attempt=%(attempt)s %(message)s"
_current_job: ContextVar[tuple[str, int] | None] = ContextVar("trainwell_job", default=None)


class JobContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        job = _current_job.get()
        record.job, record.attempt = job if job is not None else ("-", "-")
        return True


@contextmanager
def job_context(job_id: str, attempt: int) -> Iterator[None]:
    token = _current_job.set((job_id, attempt))
    try:
        yield
    finally:
        _current_job.reset(token)


@after_setup_logger.connect
def _structured_lines(logger: logging.Logger, **_: Any) -> None:
    for handler in logger.handlers:
        handler.addFilter(JobContext())
        handler.setFormatter(logging.Formatter(LINE_FORMAT))
