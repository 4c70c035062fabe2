"""The trainer's callbacks as the worker implements them: metrics and progress to SQL,
heartbeat and cancel flag from SQL. The trainer itself never sees a database.

When the database is unreachable, training goes on: each epoch's rows wait in a
buffer and writes are retried with exponential backoff at later epoch ends. The buffer
is not the only copy: every epoch's record is also in the checkpoint (trainer/fit.py),
so when the job's process dies before the rows are written, the next attempt re-sends
them from there (`on_fit_resume`; the upsert makes a re-send idempotent). The last rows
are written in the transaction that stores the final status (`finish`): a job is never
`succeeded` while its metrics are missing.

Every write is fenced by the attempt (store/jobs.py): once the job was requeued or
claimed again, this attempt's writes change nothing and `should_stop` says stop.

A sweep trial with an early stop (ASHA) is judged at its rungs: the rung epoch's rows are written at
once, retried until the database answers, in the transaction that records the trial at the rung and
decides whether it goes on (store/sweep_rungs.py); `stop_early` hands a stop to the trainer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from core.events import publish_job_changed
from store import jobs as job_store
from store.counters import increment
from store.db import session_scope
from store.metrics import MetricRow, record_metrics
from store.sweep_rungs import TrialRungs, reach_rung
from trainer import Callbacks, EpochRecord
from trainwell.job import JobStatus
from worker.disk_usage import checkpoint_bytes
from worker.retry import with_database_retry

T = TypeVar("T")
log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 30.0


class Superseded(Exception):
    """This attempt no longer holds the job: the reaper requeued it, or a newer attempt claimed it."""


class MetricsUnwritten(Exception):
    """The database refused the metric rows for good (not a lost connection): retrying cannot help."""


class JobReporter(Callbacks):
    def __init__(
        self,
        job_id: str,
        *,
        attempt: int,
        heartbeat_seconds: float,
        checkpoint_dir: Path | None = None,
        rungs: TrialRungs | None = None,
    ) -> None:
        self.job_id = job_id
        self.checkpoint_dir = checkpoint_dir  # measured with each write: the principal's stored bytes count it
        self.rungs = rungs
        self._stopped_early: dict[str, Any] | None = None
        self.attempt = attempt
        self.heartbeat_seconds = heartbeat_seconds
        self.folds = 1
        self.epochs = 0
        self.cancelled = False
        self.superseded = False
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

    def on_fit_resume(self, records: list[EpochRecord]) -> None:
        """Re-send every epoch the checkpoint holds: the last attempt may have died with them buffered."""
        for record in records:
            self._buffer(record)
        if records:
            log.info("job %s: re-sending the %d epoch(s) of the checkpoint resumed from", self.job_id, len(records))
            self._try_write()

    def on_epoch_end(self, record: EpochRecord) -> None:
        self._buffer(record)
        rung = self.rungs.rung_of(record.epoch) if self.rungs is not None and record.fold == 0 else None
        if rung is not None:
            self._reach_rung(rung, record)
        elif time.monotonic() >= self._next_write:
            self._try_write()

    def stop_early(self) -> dict[str, Any] | None:
        return self._stopped_early

    def _reach_rung(self, rung: int, record: EpochRecord) -> None:
        """Write the rung epoch's rows with the trial's record at the rung, and keep a stop the rule decided.
        A database that stays down through every retry raises: the job's process exits, the reaper requeues
        it, and the next attempt reaches the rung again."""
        rungs = self.rungs
        assert rungs is not None
        metric = rungs.asha.metric
        value = record.metrics.get(metric)
        if value is None:  # e.g. accuracy asked of a regression trial: nothing to judge it by
            log.warning(
                "job %s: no %s at epoch %d to judge rung %d by; it goes on", self.job_id, metric, record.epoch, rung
            )
            self._try_write()
            return
        if self.superseded:
            return

        def write() -> None:
            with session_scope() as session:
                decision = reach_rung(
                    session=session, rungs=rungs, job_id=self.job_id, rung=rung, epoch=record.epoch, value=value
                )
                self._write_pending(session)  # after the sweep's lock, taken by reach_rung
            self._written()
            if not decision.promoted:
                factor = rungs.asha.reduction_factor
                self._stopped_early = {
                    "rung": rung,
                    "epoch": record.epoch,
                    "metric": metric,
                    "value": value,
                    "cutoff": decision.cutoff,
                    "competitors": decision.competitors,
                    "reason": decision.reason(
                        metric=metric, value=value, rung=rung, epoch=record.epoch, reduction_factor=factor
                    ),
                }
                log.info("job %s: stopped early at rung %d: %s", self.job_id, rung, self._stopped_early["reason"])

        try:
            with_database_retry(write, what=f"rung {rung} of job {self.job_id}")
        except Superseded:
            self._supersede()

    def _buffer(self, record: EpochRecord) -> None:
        self._pending += [
            MetricRow(name, record.fold, record.epoch, record.step, value) for name, value in record.metrics.items()
        ]
        self._pending += [
            MetricRow(name, record.fold, record.epoch, step, value)
            for step, metrics in record.step_metrics
            for name, value in metrics.items()
        ]
        self._progress = (record.fold, record.epoch)

    def _try_write(self) -> None:
        if self.superseded:
            return
        try:
            with session_scope() as session:
                self._write_pending(session)
            self._written()
        except Superseded:
            self._supersede()
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

    def finish(self, write_final: Callable[[Session], T]) -> T:
        """Write whatever is still buffered and, in the same transaction, `write_final` (the final status),
        retrying lost connections with backoff. Raises Superseded (nothing written), OperationalError
        (the database stayed down: the row stays running, the reaper requeues it and the next attempt
        re-sends the rows from the checkpoint) or MetricsUnwritten."""

        def write() -> T:
            with session_scope() as session:
                self._write_pending(session)
                result = write_final(session)
            self._written()
            return result

        return with_database_retry(write, what=f"final metrics and status of job {self.job_id}")

    def _write_pending(self, session: Session) -> None:
        if self._progress is None:
            return
        fold, epoch = self._progress
        # the fence first: its update holds the row until the commit, and the rows go in only if it matched
        if not job_store.set_progress(
            session=session,
            job_id=self.job_id,
            attempt=self.attempt,
            epoch=epoch,
            fold=fold,
            folds=self.folds,
            epochs=self.epochs,
            checkpoint_bytes=checkpoint_bytes(self.checkpoint_dir) if self.checkpoint_dir is not None else None,
        ):
            raise Superseded(f"job {self.job_id}: attempt {self.attempt} no longer holds it")
        try:
            record_metrics(session=session, job_id=self.job_id, rows=self._pending)
        except OperationalError:
            raise
        except (SQLAlchemyError, ValueError) as exc:
            raise MetricsUnwritten(f"{type(exc).__name__}: {exc}".splitlines()[0][:300]) from exc
        increment(session=session, name="metric_write_retries", by=self.write_failures - self._counted_failures)

    def _written(self) -> None:
        if self._progress is None:
            return
        publish_job_changed(self.job_id, "epoch")  # after the commit: live readers find the rows
        if self.write_failures > self._counted_failures:
            log.info("job %s: caught up, %d buffered metric rows written", self.job_id, len(self._pending))
        self._counted_failures = self.write_failures
        self._pending = []
        self._backoff = 0.25

    def _supersede(self) -> None:
        if not self.superseded:
            log.warning(
                "job %s: attempt %d was superseded (requeued or claimed again); stopping", self.job_id, self.attempt
            )
        self.superseded = True
        self._pending = []

    def should_stop(self) -> bool:
        """Polled every step; touches the database at most once per heartbeat interval."""
        if self.superseded:
            return True
        now = time.monotonic()
        if now < self._next_heartbeat:
            return self.cancelled
        self._next_heartbeat = now + self.heartbeat_seconds
        try:
            with session_scope() as session:
                status = job_store.heartbeat(session=session, job_id=self.job_id, attempt=self.attempt)
        except OperationalError:
            return self.cancelled  # a missed heartbeat is not a reason to stop training
        if status is None:  # the row moved on without us: stop, and write nothing more
            self._supersede()
            return True
        self.cancelled = status is JobStatus.cancelling
        return self.cancelled
