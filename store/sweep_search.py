"""A search sweep's configurations in SQL: read back for its sampler and its table, and sampled into waiting
trials by the release that has room for them (store/sweeps.py release_trials).

Sampling happens inside the release's transaction, under its lock on the sweep row (PostgreSQL's row lock,
SQLite's write lock), so two processes releasing at once sample one after the other, the second seeing the
first's configurations. The trials' primary key (sweep, position = index × seeds + the seed's) makes a
configuration's rows once even so: a second configuration N is an IntegrityError, never a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from core.settings import get_settings
from core.sweep_sampler import Configuration, ask, objective
from store.datasets import get_dataset
from store.models import Job, Sweep, SweepTrial
from store.quotas import ACTIVE
from trainwell.job import JobStatus
from trainwell.model_size import DATASET_SHAPES, DataShape
from trainwell.spec import JobSpec
from trainwell.sweep import SweepRequest
from trainwell.sweep_search import configuration_spec

log = logging.getLogger(__name__)

# draws per configuration before the search stops short: the space's extremes were checked when the sweep
# was created, so only a combination of fields the JobSpec or the deployment's limits refuse together (a
# middle choice of widths with the largest of another range, say) is drawn again
DRAWS = 10


@dataclass(frozen=True)
class Sampled:
    """A configuration as the comparison's table shows it: its index and its values."""

    index: int
    params: dict[str, Any]


def sampled(*, session: Session, sweep_id: str) -> list[Sampled]:
    """The search's configurations stored so far, in index order."""
    query = (
        select(SweepTrial.cell, SweepTrial.params).where(SweepTrial.sweep_id == sweep_id).order_by(SweepTrial.position)
    )
    seen: dict[int, dict[str, Any]] = {}
    for cell, params in session.execute(query):
        seen.setdefault(cell, params or {})
    return [Sampled(index, params) for index, params in seen.items()]


def configurations(*, session: Session, sweep_id: str) -> list[Configuration]:
    """What the sampler is told: each configuration's values, whether all its seeds ended, and the mean
    objective over those that succeeded."""
    query = (
        select(SweepTrial.cell, SweepTrial.params, SweepTrial.job_id, Job.status, Job.summary)
        .outerjoin(Job, Job.id == SweepTrial.job_id)
        .where(SweepTrial.sweep_id == sweep_id)
        .order_by(SweepTrial.position)
    )
    rows: dict[int, list[Any]] = {}
    for row in session.execute(query):
        rows.setdefault(row.cell, []).append(row)
    stored = []
    for trials in rows.values():
        finished = all(trial.job_id is not None and trial.status not in ACTIVE for trial in trials)
        succeeded = [trial.summary for trial in trials if trial.status == JobStatus.succeeded.value]
        stored.append(Configuration(trials[0].params or {}, finished, objective(succeeded) if finished else None))
    return stored


def sample_waiting(*, session: Session, sweep_id: str, room: int) -> None:
    """Sample configurations into waiting trials until `room` trials wait or the search has all of its
    configurations. The caller holds the release's lock on the sweep row."""
    request_json, planned = session.execute(select(Sweep.request, Sweep.trials).where(Sweep.id == sweep_id)).one()
    request = SweepRequest.model_validate(request_json)
    search, seeds = request.search, request.seeds
    assert search is not None
    waiting_query = select(func.count()).where(SweepTrial.sweep_id == sweep_id, SweepTrial.job_id.is_(None))
    waiting = session.scalar(waiting_query) or 0
    while waiting < room:
        stored = configurations(session=session, sweep_id=sweep_id)  # the sampler's state: the database's
        if len(stored) * len(seeds) >= planned:
            return
        drawn = _draw(request, stored, lambda spec: _within_limits(session, spec))
        if drawn is None:  # the search ends with the configurations it has
            log.warning("sweep %s: no valid configuration in %d draws; ending at %d", sweep_id, DRAWS, len(stored))
            session.execute(update(Sweep).where(Sweep.id == sweep_id).values(trials=len(stored) * len(seeds)))
            return
        params, spec_json = drawn
        index = len(stored)
        session.execute(
            insert(SweepTrial),
            [
                {
                    "sweep_id": sweep_id,
                    "position": index * len(seeds) + n,
                    "cell": index,
                    "seed": seed,
                    "spec": {**spec_json, "seed": seed},
                    "params": params,
                    "job_id": None,
                }
                for n, seed in enumerate(seeds)
            ],
        )
        waiting += len(seeds)


def _draw(
    request: SweepRequest, stored: list[Configuration], allowed: Callable[[JobSpec], bool]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The next configuration and its spec (as JSON), or None if every draw was refused by the JobSpec or
    by `allowed` (the deployment's limits)."""
    assert request.search is not None
    for attempt in range(DRAWS):
        params = ask(request.search, stored, attempt=attempt)
        try:
            spec = configuration_spec(request, params)
        except ValidationError:
            continue
        if allowed(spec):
            return params, spec.model_dump(mode="json")
        log.info("a drawn configuration is past the deployment's limits, drawn again: %s", params)
    return None


def _within_limits(session: Session, spec: JobSpec) -> bool:
    """The spec against the deployment's epoch and model-size limits, on its dataset's shape (a built-in's,
    or the upload's row: the sweep's creation checked that it is its owner's)."""
    shape = DATASET_SHAPES.get(spec.dataset.name)
    if shape is None:
        row = get_dataset(session=session, dataset_id=spec.dataset.name, principal_id=None)
        if row is None:  # deleted since: the trial's job fails with the reason when it loads it
            return True
        outputs = len(row.classes or []) if row.task == "classification" else 1
        shape = DataShape(features=len(row.columns), outputs=outputs)
    return get_settings().limits.exceeded(spec, shape) is None
