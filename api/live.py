"""A job's live event stream: `status` on every transition seen, `epoch` with each epoch's metrics,
and `diagnosis` once the worker has diagnosed the finished job (twice when probe jobs decide the
verdict: provisional first, then settled).

Each event's id is a cursor `{fold}.{epoch}.{status}`: the last epoch and the last status
the client has been sent. A reconnecting client sends it back as `Last-Event-ID` and gets
only what came after, recomputed from the database, so no event log is kept anywhere.

What wakes a stream: in production mode a message on the job's Redis channel (published
by the worker after each epoch's metrics are committed), with a database read at least
every FALLBACK_SECONDS anyway (the final status is not published, and messages may be
lost); in embedded mode a database read every POLL_SECONDS. Each read is one query on
the job row, plus one on the new metric rows only when the row's progress moved.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import anyio
import redis.asyncio as aioredis
from sse_starlette import JSONServerSentEvent, ServerSentEvent

from core.events import job_channel, uses_redis
from core.settings import get_settings
from store.db import session_factory
from store.diagnoses import get_diagnosis
from store.events import EpochMetrics, JobState, read_epochs_after, read_job_state
from trainwell.diagnosis import DiagnosisStatus
from trainwell.job import FINAL_STATUSES, FailureReason, JobStatus

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
FALLBACK_SECONDS = 1.0


@dataclass(frozen=True)
class Cursor:
    fold: int = 0
    epoch: int = 0
    status: str = ""
    diagnosed: bool = False  # the diagnosis event was sent

    def encode(self) -> str:
        return f"{self.fold}.{self.epoch}.{self.status}" + (".diagnosis" if self.diagnosed else "")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Raises ValueError on an id this API did not send."""
        fold, epoch, status, *rest = token.split(".")
        if status:
            JobStatus(status)
        if rest not in ([], ["diagnosis"]):
            raise ValueError(token)
        return cls(int(fold), int(epoch), status, bool(rest))


def status_payload(state: JobState) -> dict[str, Any]:
    error = {"reason": state.error_reason, "message": state.error_message or ""} if state.error_reason else None
    return {
        "status": state.status,
        "attempt": state.attempt,
        "progress": {"epoch": state.epoch, "epochs": state.epochs, "fold": state.fold, "folds": state.folds},
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "finished_at": state.finished_at.isoformat() if state.finished_at else None,
        "error": error,
        "summary": state.summary,
    }


def epoch_payload(record: EpochMetrics) -> dict[str, Any]:
    return {"fold": record.fold, "epoch": record.epoch, "step": record.step, "metrics": record.metrics}


def _read(job_id: str, cursor: Cursor) -> tuple[JobState | None, list[EpochMetrics]]:
    # one short session per read: a stream may stay open for hours and must not hold a connection
    with session_factory()() as session:
        state = read_job_state(session=session, job_id=job_id)
        if state is None or (state.fold, state.epoch) <= (cursor.fold, cursor.epoch):
            return state, []
        return state, read_epochs_after(session=session, job_id=job_id, fold=cursor.fold, epoch=cursor.epoch)


def _changes(job_id: str, cursor: Cursor) -> tuple[Cursor, list[ServerSentEvent], bool]:
    """The events after `cursor`, the cursor after them, and whether the stream is done."""
    state, epochs = _read(job_id, cursor)
    if state is None:  # deleted under us
        return cursor, [], True
    events: list[ServerSentEvent] = []
    final = JobStatus(state.status) in FINAL_STATUSES
    if (
        cursor.status == JobStatus.queued
        and state.status not in (JobStatus.queued, JobStatus.running)
        and state.started_at is not None
    ):
        # It ran and moved on between two reads (a short job): the row's started_at proves the
        # running transition, so the client still sees queued → running → the rest. (A job the
        # reaper requeued is queued again with its old started_at: not this case.)
        cursor = Cursor(cursor.fold, cursor.epoch, JobStatus.running.value)
        running = replace(
            state,
            status=cursor.status,
            epoch=cursor.epoch,
            fold=cursor.fold,
            finished_at=None,
            error_reason=None,
            error_message=None,
            summary=None,
        )
        events.append(JSONServerSentEvent(data=status_payload(running), event="status", id=cursor.encode()))
    changed = state.status != cursor.status
    if changed and not final:
        cursor = Cursor(cursor.fold, cursor.epoch, state.status)
        events.append(JSONServerSentEvent(data=status_payload(state), event="status", id=cursor.encode()))
    for record in epochs:
        cursor = Cursor(record.fold, record.epoch, cursor.status)
        events.append(JSONServerSentEvent(data=epoch_payload(record), event="epoch", id=cursor.encode()))
    if changed and final:  # after every epoch it ended with
        cursor = Cursor(cursor.fold, cursor.epoch, state.status)
        events.append(JSONServerSentEvent(data=status_payload(state), event="status", id=cursor.encode()))
    return cursor, events, final


class _Wakeups:
    """Waits until it is worth reading the database again."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        url = get_settings().broker_url
        self._client = aioredis.Redis.from_url(url, socket_connect_timeout=2) if uses_redis(url) else None
        self._pubsub: aioredis.client.PubSub | None = None

    async def __aenter__(self) -> _Wakeups:
        if self._client is not None:
            try:
                self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                await self._pubsub.subscribe(job_channel(self.job_id))
            except aioredis.RedisError as exc:
                log.warning("job %s: live events poll the database, Redis is unavailable (%s)", self.job_id, exc)
                self._pubsub = None
        return self

    async def __aexit__(self, *_: object) -> None:
        with anyio.CancelScope(shield=True):
            if self._pubsub is not None:
                await self._pubsub.aclose()
            if self._client is not None:
                await self._client.aclose()

    async def wait(self) -> None:
        if self._pubsub is None:
            await anyio.sleep(POLL_SECONDS)
            return
        try:
            message = await self._pubsub.get_message(timeout=FALLBACK_SECONDS)
            while message is not None:  # coalesce a burst of hints into one read
                message = await self._pubsub.get_message(timeout=0)
        except aioredis.RedisError as exc:
            log.warning("job %s: Redis subscription lost (%s); polling the database", self.job_id, exc)
            self._pubsub = None


# Every job that ran ends with a final diagnosis (a verdict, or not_applicable saying why there is none).
# The worker diagnoses a job right after it ends, so a stream waits for it. A job stopped by a time limit,
# whose data could not be loaded or whose worker was lost for good has its diagnosis stored in the same
# transaction as its final status: for those, a stream that finds none will get none. A job that never
# ran (cancelled while queued) has none either.
DIAGNOSED_WITH_FINAL_STATUS = frozenset({FailureReason.terminated, FailureReason.dataset, FailureReason.worker_lost})
DIAGNOSIS_WAIT_SECONDS = 300.0
# Probe jobs queue like any other, possibly behind a backlog: a stream waits for their verdict up to an
# hour, reading the diagnosis once a second (a small indexed read; the provisional one was already sent).
PROBE_WAIT_SECONDS = 3600.0
PROBE_POLL_SECONDS = 1.0


def _diagnosis(job_id: str) -> tuple[dict[str, Any] | None, bool]:
    """The stored diagnosis (None while pending), and whether one will never come."""
    with session_factory()() as session:
        state = read_job_state(session=session, job_id=job_id)
        if state is None or state.started_at is None:
            return None, True  # gone, or never ran (cancelled while queued)
        diagnosis = get_diagnosis(session=session, job_id=job_id)
    if diagnosis is None:
        return None, state.error_reason in DIAGNOSED_WITH_FINAL_STATUS
    return diagnosis.model_dump(mode="json"), False


async def job_events(job_id: str, cursor: Cursor) -> AsyncIterator[ServerSentEvent]:
    """Runs until the job is final and diagnosed (its final status and its `diagnosis` event sent) or
    the client goes away: sse-starlette cancels this generator on disconnect, which closes the
    subscription on the way out. A diagnosis that waits for probe jobs is sent as it is (provisional,
    `running_probes`), and again once its verdict is settled, for up to PROBE_WAIT_SECONDS."""
    async with _Wakeups(job_id) as wakeups:
        while True:
            cursor, events, done = await anyio.to_thread.run_sync(_changes, job_id, cursor)
            for event in events:
                yield event
            if done:
                break
            await wakeups.wait()
    if cursor.diagnosed:
        return
    sent: str | None = None  # the status of the diagnosis last sent
    for wait_seconds in (DIAGNOSIS_WAIT_SECONDS, PROBE_WAIT_SECONDS):
        diagnosis = await _next_diagnosis(job_id, wait_seconds, unlike=sent)
        if diagnosis is None:
            return
        final = DiagnosisStatus(diagnosis["status"]).is_final
        yield JSONServerSentEvent(data=diagnosis, event="diagnosis", id=replace(cursor, diagnosed=final).encode())
        if final:
            return
        sent = diagnosis["status"]


async def _next_diagnosis(job_id: str, wait_seconds: float, *, unlike: str | None) -> dict[str, Any] | None:
    """The stored diagnosis once there is one whose status differs from `unlike`; None if none comes."""
    # never yield inside a cancel scope in an async generator: the scope would be left from
    # whichever task resumes the generator (anyio's rule), so wait here, and send in the caller
    with anyio.move_on_after(wait_seconds):
        while True:
            diagnosis, never = await anyio.to_thread.run_sync(_diagnosis, job_id)
            if never:
                return None
            if diagnosis is not None and diagnosis["status"] != unlike:
                return diagnosis
            await anyio.sleep(POLL_SECONDS if unlike is None else PROBE_POLL_SECONDS)
    return None
