"""Submission quotas: a clear 422 for a model too large, a 429 for too many jobs at once or
too many submissions in a minute (with Retry-After).

Counted in the database, not in process memory, so every API process sees the same numbers.
The insert itself enforces the two counts (store/quotas.py); the counts are read only to say
why a submission was refused.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy.orm import Session

from api.errors import ApiError
from core.settings import Settings
from store.models import utcnow
from store.principals import Caller
from store.quotas import Limits, oldest_of_newest, usage
from trainwell.model_size import DataShape, count_parameters
from trainwell.spec import JobSpec

WINDOW = timedelta(minutes=1)


def check_model_size(*, spec: JobSpec, shape: DataShape, settings: Settings) -> None:
    parameters = count_parameters(spec, shape)
    if parameters > settings.max_model_parameters:
        raise ApiError(
            422,
            "model_too_large",
            f"model: {parameters:,} parameters on {spec.dataset.name}; at most {settings.max_model_parameters:,} "
            "allowed (fewer or narrower hidden layers)",
            [{"field": "model", "message": "too many parameters", "parameters": parameters}],
        )


def submission_limits(*, caller: Caller, settings: Settings) -> Limits:
    return Limits(
        principal_id=caller.principal_id,
        since=utcnow() - WINDOW,
        max_active=settings.max_active_jobs,
        max_recent=settings.submissions_per_minute,
    )


def refusal(*, session: Session, limits: Limits) -> ApiError:
    """The 429 for a submission the insert refused: which limit, and when to retry."""
    used = usage(session=session, limits=limits)
    if used.active >= limits.max_active:
        return ApiError(
            429,
            "too_many_active_jobs",
            f"{used.active} of your jobs are queued or running; at most {limits.max_active} at once — "
            "wait for some to finish or cancel them",
            headers={"Retry-After": "30"},
        )
    now = utcnow()
    oldest = oldest_of_newest(
        session=session, principal_id=limits.principal_id, since=limits.since, count=limits.max_recent
    )
    # Both counts can be under their limits again by now (a job ended, the window moved): retry soon.
    retry_after = max(1, math.ceil(((oldest or now) + WINDOW - now).total_seconds()))
    return ApiError(
        429,
        "rate_limited",
        f"at most {limits.max_recent} submissions a minute; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )
