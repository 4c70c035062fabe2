"""A search sweep's next configuration, asked of an Optuna sampler (random or TPE) through ask-and-tell.

No study outlives a call: each ask builds an in-memory study, tells it every configuration stored so far
(finished ones with their objective, the rest as running) and asks one more. So the sampler's state is
the database's, and an API restart, a second API process or a worker releasing the next trial continues
the same search. The sampler's seed is derived from the search's seed and the configuration's index, so
that a rebuilt sampler draws configuration N the same way whichever process asks for it.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from trainwell.sweep import OBJECTIVE_METRIC, Distribution, Search

# a study is created per ask: its "created in memory" line would log once per released configuration
optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class Configuration:
    """A configuration stored so far: its sampled values, and its objective once all its seeds ended
    (None when none succeeded with a finite objective: the sampler is told it failed)."""

    params: dict[str, Any]
    finished: bool
    objective: float | None


def objective(summaries: Iterable[dict[str, Any] | None]) -> float | None:
    """The mean over the succeeded seeds' summaries of OBJECTIVE_METRIC at their best epoch, as the
    comparison ranks cells; None when none reports a finite one."""
    values = []
    for summary in summaries:
        value = ((summary or {}).get("best_metrics") or {}).get(OBJECTIVE_METRIC)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            values.append(float(value))
    return statistics.fmean(values) if values else None


def ask(search: Search, stored: Sequence[Configuration], *, attempt: int = 0) -> dict[str, Any]:
    """The next configuration (dotted path → value) after `stored`, which are in index order."""
    distributions = {key: optuna_distribution(value) for key, value in search.space.items()}
    seed = int(np.random.SeedSequence([search.seed, len(stored), attempt]).generate_state(1)[0])
    sampler: optuna.samplers.BaseSampler = (
        optuna.samplers.TPESampler(seed=seed) if search.sampler == "tpe" else optuna.samplers.RandomSampler(seed=seed)
    )
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), sampler=sampler, direction="minimize")
    study.add_trials([frozen_trial(search.space, distributions, configuration) for configuration in stored])
    trial = study.ask(distributions)
    return {key: _external(search.space[key], trial.params[key]) for key in search.space}


def optuna_distribution(distribution: Distribution) -> BaseDistribution:
    if distribution.choice is not None:
        # Optuna's categorical choices must be scalars; a choice may be a list (`model.hidden`): the
        # sampler picks an index, and the configuration stores the value itself
        return CategoricalDistribution(tuple(range(len(distribution.choice))))
    if distribution.integer is not None:
        low, high = distribution.integer
        return IntDistribution(low, high, log=distribution.log)
    bounds = distribution.bounds
    assert bounds is not None
    return FloatDistribution(bounds[0], bounds[1], log=distribution.loguniform is not None)


def _external(distribution: Distribution, internal: Any) -> Any:
    return distribution.choice[int(internal)] if distribution.choice is not None else internal


def _internal(distribution: Distribution, value: Any) -> Any:
    return distribution.choice.index(value) if distribution.choice is not None else value


class _Told(optuna.trial.FrozenTrial):
    """A trial made for one study and never touched again: the in-memory storage's deep copy of each added
    trial (a guard for a caller who keeps mutating the one it passed) was 70% of an ask at 1,000 stored
    configurations (bench/search.py). A shallow copy is enough here — the storage copies a trial before
    changing it — and the copy protocol is how the storage's `copy.deepcopy` is told so."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Told:
        return copy.copy(self)


def frozen_trial(
    space: Mapping[str, Distribution], distributions: dict[str, BaseDistribution], configuration: Configuration
) -> optuna.trial.FrozenTrial:
    """A stored configuration as Optuna's trial: its values in the distributions' terms (a choice's index)."""
    params = {key: _internal(space[key], configuration.params[key]) for key in space}
    if not configuration.finished:
        state, value = TrialState.RUNNING, None
    elif configuration.objective is None:
        state, value = TrialState.FAIL, None
    else:
        state, value = TrialState.COMPLETE, configuration.objective
    # built as `optuna.trial.create_trial` builds it, less its validation: `Study.add_trial` validates
    # each trial again (at 1,000 configurations the first validation was 15% of an ask)
    now = datetime.now()
    return _Told(
        number=-1,  # the storage numbers it
        trial_id=-1,
        state=state,
        value=value,
        datetime_start=now,
        datetime_complete=None if state == TrialState.RUNNING else now,
        params=params,
        distributions=distributions,
        user_attrs={},
        system_attrs={},
        intermediate_values={},
    )
