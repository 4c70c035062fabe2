"""The `Idempotency-Key` header of the routes that create something (POST /v1/jobs, a remedy's launch,
POST /v1/sweeps, a job's predictions): how it is declared, and the `Idempotent-Replayed` header that
marks a replayed answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Response

from api.services.submission import Submission
from trainwell.job import Job

IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=200,
        description="unique per principal: a retry with the same key (and the same body) answers what "
        "the first request created, with `Idempotent-Replayed: true`; the same key with another body is a 409",
    ),
]
REPLAYED: dict[str, Any] = {
    "headers": {
        "Idempotent-Replayed": {
            "description": "`true`: what an earlier request with this key created",
            "schema": {"type": "string"},
        }
    }
}


def mark_replayed(response: Response, submitted: Submission) -> Job:
    """The submitted job, its response marked when it replays an earlier request's."""
    if submitted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return submitted.job
