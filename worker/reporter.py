"""The trainer's callbacks as the worker implements them: metrics and progress to SQL,
heartbeat and cancel flag from SQL. The trainer itself never sees a database.

When the database is unreachable, training goes on: each epoch's rows wait in a
buffer, writes are retried with exponential backoff at later epoch ends, and
`flush()` (called before the job is finished) keeps retrying until they are written.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import OperationalError

from core.events import publish_job_changed
from store import jobs as job_store
from store.counters import increment
from store.db import session_scope
from store.metrics import MetricRow, record_metrics
from trainer import Callbacks, EpochRecord
from trainwell.job import JobStatus
from worker.retry import with_database_retry

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 30.0


class JobReporter(Callbacks):
    def __init__(self, job_id: str, *, heartbeat_seconds: float) -> None:
        self.job_id = job_id
        self.heartbeat_seconds = heartbeat_seconds
        self.folds = 1
        self.epochs = 0
        self.cancelled = False
        self.write_failures = 0
        self._counted_failures = 0  # failures already added to the metric_write_retries counter
        self._pending: list[MetricRow] = []
        self._progress: tuple[int, int] | None = None  # (fold, epoch) of the newest record
        self._next_heartbeat = 0.0
        self._next_write = 0.0
        self._backoff = 0.25

    def on_fit_start(self, *, folds: int, epochs: int) -> None:
        self.folds, self.epochs = folds, epochs
        publish_job_changed(self.job_id, "running")  # the claim made it running just before

    def on_epoch_end(self, record: EpochRecord) -> None:
        self._pending += [
            MetricRow(name, record.fold, record.epoch, record.step, value) for name, value in record.metrics.items()
        ]
        self._pending += [
            MetricRow(name, record.fold, record.epoch, step, value)
            for step, metrics in record.step_metrics
            for name, value in metrics.items()
        ]
        self._progress = (record.fold, record.epoch)
        if time.monotonic() >= self._next_write:
            try:
                self._write()
            except OperationalError as exc:
                self.write_failures += 1
                self._next_write = time.monotonic() + self._backoff
                log.warning(
                    "job %s: metric write failed (%s); %d rows buffered, retrying in %.2fs while training goes on",
                    self.job_id,
                    type(exc.orig).__name__,
                    len(self._pending),
                    self._backoff,
                )
                self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)

    def flush(self) -> None:
        """Write whatever is still buffered, retrying with backoff; called before the job is finished."""
        if self._pending:
            with_database_retry(self._write, what=f"buffered metrics of job {self.job_id}")

    def _write(self) -> None:
        with session_scope() as session:
            record_metrics(session=session, job_id=self.job_id, rows=self._pending)
            increment(session=session, name="metric_write_retries", by=self.write_failures - self._counted_failures)
            if self._progress is not None:
                fold, epoch = self._progress
                job_store.set_progress(
                    session=session, job_id=self.job_id, epoch=epoch, fold=fold, folds=self.folds, epochs=self.epochs
                )
        publish_job_changed(self.job_id, "epoch")  # after the commit: live readers find the rows
        if self.write_failures > self._counted_failures:
            log.info("job %s: caught up, %d buffered metric rows written", self.job_id, len(self._pending))
        self._counted_failures = self.write_failures
        self._pending = []
        self._backoff = 0.25

    def should_stop(self) -> bool:
        """Polled every step; touches the database at most once per heartbeat interval."""
        now = time.monotonic()
        if now < self._next_heartbeat:
            return self.cancelled
        self._next_heartbeat = now + self.heartbeat_seconds
        try:
            with session_scope() as session:
                status = job_store.heartbeat(session=session, job_id=self.job_id)
        except OperationalError:
            return self.cancelled  # a missed heartbeat is not a reason to stop training
        # cancelling: the user asked; anything else but running: the row moved on without us
        self.cancelled = status is not JobStatus.running
        return self.cancelled
