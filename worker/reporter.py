"""The trainer's callbacks as the worker implements them: metrics and progress to SQL,
heartbeat and cancel flag from SQL. The trainer itself never sees a database."""

from __future__ import annotations

import time

from store import jobs as job_store
from store.db import session_scope
from store.metrics import MetricRow, record_metrics
from trainer import Callbacks, EpochRecord
from trainwell.job import JobStatus
from worker.retry import with_database_retry


class JobReporter(Callbacks):
    def __init__(self, job_id: str, *, heartbeat_seconds: float) -> None:
        self.job_id = job_id
        self.heartbeat_seconds = heartbeat_seconds
        self.folds = 1
        self.epochs = 0
        self.cancelled = False
        self._next_heartbeat = 0.0

    def on_fit_start(self, *, folds: int, epochs: int) -> None:
        self.folds, self.epochs = folds, epochs

    def on_epoch_end(self, record: EpochRecord) -> None:
        rows = [
            MetricRow(name, record.fold, record.epoch, record.step, value) for name, value in record.metrics.items()
        ]
        rows += [
            MetricRow(name, record.fold, record.epoch, step, value)
            for step, metrics in record.step_metrics
            for name, value in metrics.items()
        ]

        def write() -> None:
            with session_scope() as session:
                record_metrics(session=session, job_id=self.job_id, rows=rows)
                job_store.set_progress(
                    session=session,
                    job_id=self.job_id,
                    epoch=record.epoch,
                    fold=record.fold,
                    folds=self.folds,
                    epochs=self.epochs,
                )

        with_database_retry(write, what=f"metrics of job {self.job_id} epoch {record.epoch}")

    def should_stop(self) -> bool:
        """Polled every step; touches the database at most once per heartbeat interval."""
        now = time.monotonic()
        if now < self._next_heartbeat:
            return self.cancelled
        self._next_heartbeat = now + self.heartbeat_seconds
        try:
            with session_scope() as session:
                status = job_store.heartbeat(session=session, job_id=self.job_id)
        except Exception:
            return self.cancelled  # a missed heartbeat is not a reason to stop training
        # cancelling: the user asked; anything else but running: the row moved on without us
        self.cancelled = status is not JobStatus.running
        return self.cancelled
