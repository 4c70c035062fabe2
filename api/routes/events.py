"""GET /v1/jobs/{id}/events: a job's status changes and epoch metrics as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from sse_starlette import EventSourceResponse

from api.deps import OwnJobDep, SessionDep, refuse_malformed_parameters
from api.errors import AUTHENTICATED, ApiError, error_responses
from api.live import Cursor, job_events

router = APIRouter(
    prefix="/v1/jobs", tags=["jobs"], responses=AUTHENTICATED, dependencies=[Depends(refuse_malformed_parameters)]
)

# Proxies and load balancers drop a connection that stays silent for a while (often 30-60 s);
# a comment line this often keeps it open between slow epochs.
PING_SECONDS = 10
# A client that stops reading must not pin the stream forever.
SEND_TIMEOUT_SECONDS = 30
# no-cache, not sse-starlette's default no-store: Chromium reports a no-store fetch stream read
# to its end as aborted (microsoft/playwright#42742), which the browser tests would count as a
# failed request. Nothing caches a streamed response either way.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

EVENTS_DESCRIPTION = """\
A `text/event-stream` that ends once the job is final and diagnosed: after its final `status`
event and its `diagnosis` event (the body of GET …/diagnosis; none for a job that was
terminated, lost its worker for good, or whose data could not be loaded).

- `event: status` on every status change seen (the first event of a fresh stream on a job
  that is not yet final), data: `{status, attempt, progress, started_at, finished_at, error, summary}`;
- `event: epoch` once per finished epoch (per fold for k-fold), data:
  `{fold, epoch, step, metrics: {name: value}}` with the epoch metrics (no per-step series);
- a `: ping` comment every 10 s.

Each event's `id` is a cursor; reconnect with it as `Last-Event-ID` to get only what came after.
"""


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    description=EVENTS_DESCRIPTION,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "the event stream"},
        **error_responses(400, 404),
    },
)
def read_job_events(
    job: OwnJobDep,
    session: SessionDep,
    last_event_id: Annotated[
        str | None, Header(max_length=100, description="the `id` of the last event you got, to resume after it")
    ] = None,
) -> EventSourceResponse:
    """Live events of a job: status changes and each epoch's metrics."""
    try:
        cursor = Cursor.decode(last_event_id) if last_event_id else Cursor()
    except ValueError:
        raise ApiError(400, "invalid_last_event_id", "Last-Event-ID is not an event id this API sent") from None
    # the stream outlives this request's session: hand its connection back to the pool now
    session.close()
    return EventSourceResponse(
        job_events(job.id, cursor),
        ping=PING_SECONDS,
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers=STREAM_HEADERS,
    )
