"""A sweep's search space checked against the JobSpec before anything is stored, and a sampled
configuration turned into its trials' spec.

Pure: the service checks a request with it and builds each configuration's spec with it (the sampling
itself is the service's, through Optuna); a client may check a space before sending it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import ValidationError

from trainwell.spec import JobSpec
from trainwell.sweep import Distribution, Search, SweepRequest
from trainwell.sweep_grid import GridError, check_path, patched, written_base


def extremes(distribution: Distribution) -> list[Any]:
    """The values a check must try: a range's two ends and one point inside, or every choice.

    The inner point is a third of the way along (on the log scale for a log range), so that on an
    integer field a float range is refused here rather than by the first non-integral sample."""
    if distribution.choice is not None:
        return list(distribution.choice)
    low, high = distribution.bounds or (0.0, 0.0)
    if distribution.integer is not None:
        return [int(low), int(high)]
    if distribution.loguniform is not None:
        return [low, high, math.exp(math.log(low) + (math.log(high) - math.log(low)) / 3)]
    return [low, high, low + (high - low) / 3]


def check_space(request: SweepRequest, *, max_trials: int) -> list[tuple[str, JobSpec]]:
    """Every key, and every extreme value of each (extremes) on the base, validated as a trial's spec would
    be; GridError naming `search.space.<key>` (or `search.trials`) on the first refusal. Returns the specs it
    validated, labelled by the value they try, for the service's limit checks: each extreme alone, and the
    corners where every range is at its low or its high end (choices at their first or last value)."""
    search = request.search
    assert search is not None
    count = search.trials * len(request.seeds)
    if count > max_trials:
        raise GridError(
            "search.trials",
            f"{search.trials} configurations × {len(request.seeds)} seeds is {count} trials; at most {max_trials}",
        )
    base = written_base(request)
    for key in search.space:
        check_path(key, f"search.space.{key}")
    checked = []
    for key, distribution in search.space.items():
        for value in extremes(distribution):
            checked.append((f"search.space.{key}", _validate(base, {key: value}, f"search.space.{key}")))
    for end in (0, -1):
        corner = {key: _end(distribution, end) for key, distribution in search.space.items()}
        label = "low" if end == 0 else "high"
        checked.append(("search.space", _validate(base, corner, f"search.space ({label} ends together)")))
    return checked


def configuration_spec(request: SweepRequest, params: dict[str, Any]) -> JobSpec:
    """The spec a sampled configuration's trials run (before each takes its seed); ValidationError when a
    combination the extremes' check let through is refused."""
    return JobSpec.model_validate(patched(written_base(request), params))


def _end(distribution: Distribution, end: int) -> Any:
    if distribution.choice is not None:
        return distribution.choice[end]
    bounds = distribution.bounds
    assert bounds is not None
    return int(bounds[end]) if distribution.integer is not None else bounds[end]


def _validate(base: dict[str, Any], values: dict[str, Any], field: str) -> JobSpec:
    try:
        return JobSpec.model_validate(patched(base, values))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        allowed = (error.get("ctx") or {}).get("expected")
        tried = json.dumps(values, sort_keys=True)
        message = f"{tried}: {where + ': ' if where else ''}{error['msg']}"
        raise GridError(field, message, allowed=allowed) from None


__all__ = ["Search", "check_space", "configuration_spec", "extremes"]
