"""Submission quotas: a clear 422 for a model too large, a 429 for too many jobs at once or
too many submissions in a minute (with Retry-After).

Counted in the database, not in process memory, so every API process sees the same
numbers. Check and insert are not one transaction: concurrent submissions can pass a
limit by the number of requests in flight, which a quota can afford.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy.orm import Session

from api.errors import ApiError
from store.models import utcnow
from store.principals import Caller
from store.quotas import oldest_of_newest, usage
from store.settings import Settings
from trainwell.model_size import DataShape, count_parameters
from trainwell.spec import JobSpec

WINDOW = timedelta(minutes=1)


def check_quotas(*, session: Session, caller: Caller, spec: JobSpec, shape: DataShape, settings: Settings) -> None:
    parameters = count_parameters(spec, shape)
    if parameters > settings.max_model_parameters:
        raise ApiError(
            422,
            "model_too_large",
            f"model: {parameters:,} parameters on {spec.dataset.name}; at most {settings.max_model_parameters:,} "
            "allowed (fewer or narrower hidden layers)",
            [{"field": "model", "message": "too many parameters", "parameters": parameters}],
        )
    now = utcnow()
    used = usage(
        session=session,
        principal_id=caller.principal_id,
        since=now - WINDOW,
        max_active=settings.max_active_jobs,
        max_recent=settings.submissions_per_minute,
    )
    if used.active >= settings.max_active_jobs:
        raise ApiError(
            429,
            "too_many_active_jobs",
            f"{used.active} of your jobs are queued or running; at most {settings.max_active_jobs} at once — "
            "wait for some to finish or cancel them",
            headers={"Retry-After": "30"},
        )
    if used.recent >= settings.submissions_per_minute:
        oldest = oldest_of_newest(
            session=session,
            principal_id=caller.principal_id,
            since=now - WINDOW,
            count=settings.submissions_per_minute,
        )
        retry_after = max(1, math.ceil(((oldest or now) + WINDOW - now).total_seconds()))
        raise ApiError(
            429,
            "rate_limited",
            f"at most {settings.submissions_per_minute} submissions a minute; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
