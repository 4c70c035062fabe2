"""The events of GET /v1/jobs/{id}/events as typed models, and the Server-Sent Events parser behind them.

`client.jobs.events(job)` yields `StatusEvent` on every status change, `EpochEvent` once per finished
epoch, and last a `DiagnosisEvent` (none for a job that never ran). Each event's `id` can be passed
back as `last_event_id` to resume after it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ValidationError

from trainwell._exceptions import APIResponseValidationError
from trainwell.diagnosis import Diagnosis
from trainwell.job import JobError, JobStatus, Progress


class StatusEvent(BaseModel):
    """The job's status changed; the last one of a stream is the final status."""

    type: Literal["status"] = "status"
    id: str | None = None
    status: JobStatus
    attempt: int
    progress: Progress
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: JobError | None = None
    summary: dict[str, Any] | None = None


class EpochEvent(BaseModel):
    """An epoch finished (per fold for k-fold): its epoch metrics by name."""

    type: Literal["epoch"] = "epoch"
    id: str | None = None
    fold: int
    epoch: int
    step: int
    metrics: dict[str, float | None]


class DiagnosisEvent(BaseModel):
    """The diagnosis of the finished job: the stream's last event."""

    type: Literal["diagnosis"] = "diagnosis"
    id: str | None = None
    diagnosis: Diagnosis


JobEvent = StatusEvent | EpochEvent | DiagnosisEvent


@dataclass
class RawEvent:
    """One dispatched Server-Sent Event, before it is typed."""

    event: str = "message"
    data: str = ""
    id: str | None = None


@dataclass
class SSEDecoder:
    """Line-by-line SSE decoding after the WHATWG rules: `field: value`, comments, a blank line dispatches."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def decode(self, line: str) -> RawEvent | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data and not self._event:
                return None
            raw = RawEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return raw
        if line.startswith(":"):  # a comment: the server's ping
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value or None
        return None


def typed_event(raw: RawEvent, response: httpx.Response) -> JobEvent | None:
    """The model of a raw event; None for an event type this SDK does not know (newer servers may add some)."""
    try:
        data = json.loads(raw.data) if raw.data else {}
        if raw.event == "status":
            return StatusEvent.model_validate({**data, "id": raw.id})
        if raw.event == "epoch":
            return EpochEvent.model_validate({**data, "id": raw.id})
        if raw.event == "diagnosis":
            return DiagnosisEvent(id=raw.id, diagnosis=Diagnosis.model_validate(data))
    except (ValueError, ValidationError) as exc:
        raise APIResponseValidationError(
            f"the {raw.event!r} event is not what this SDK expects: {exc}", response=response
        ) from None
    return None


def iter_events(response: httpx.Response) -> Iterator[JobEvent]:
    decoder = SSEDecoder()
    for line in response.iter_lines():
        raw = decoder.decode(line)
        if raw is not None and (event := typed_event(raw, response)) is not None:
            yield event


async def aiter_events(response: httpx.Response) -> AsyncIterator[JobEvent]:
    decoder = SSEDecoder()
    async for line in response.aiter_lines():
        raw = decoder.decode(line)
        if raw is not None and (event := typed_event(raw, response)) is not None:
            yield event


__all__ = ["DiagnosisEvent", "EpochEvent", "JobEvent", "StatusEvent"]
