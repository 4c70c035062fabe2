"""Which of a sweep's parameters explain the variation of its objective, and where each one's best region lies.

Optuna's importance evaluators run on a study rebuilt from the stored configurations, as the sampler's is
(core/sweep_sampler.py): each finished configuration with an objective becomes a complete trial. A grid's
paths become choices over their values, so a grid and a search are read the same way (a choice is an
index for Optuna: a value that is a list or a merge patch is no scalar it could hold).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import optuna
from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator, get_param_importances

from core.sweep_sampler import Configuration, frozen_trial, optuna_distribution
from trainwell.sweep import Distribution, ParameterImportance

# optuna-dashboard switches to PED-ANOVA from this many trials: fANOVA's random forest grows slow with them,
# while PED-ANOVA compares the top quantile's density with the whole's in time linear in the trials
PED_ANOVA_FROM = 1000
# fANOVA fits a random forest: a fixed seed answers the same importances for the same configurations
FANOVA_SEED = 0
# the best region of a range: the span of the best quarter of the configurations by objective
BEST_QUANTILE = 0.25

Evaluator = Literal["fanova", "ped_anova"]


@dataclass(frozen=True)
class Importances:
    evaluator: Evaluator
    configurations: int  # finished ones with an objective: what the evaluator saw
    parameters: list[ParameterImportance]  # most important first
    reason: str | None  # why `parameters` is empty


def grid_space(grid: Mapping[str, Sequence[Any]]) -> dict[str, Distribution]:
    """A grid's paths as choices over their values."""
    return {path: Distribution(choice=list(values)) for path, values in grid.items()}


def evaluator_for(configurations: int) -> Evaluator:
    return "ped_anova" if configurations >= PED_ANOVA_FROM else "fanova"


def importances(space: Mapping[str, Distribution], stored: Sequence[Configuration]) -> Importances:
    """Each varying parameter's share of the objective's variation (summing to 1) and its best region."""
    finished = [c for c in stored if c.finished and c.objective is not None and math.isfinite(c.objective)]
    evaluator = evaluator_for(len(finished))
    if len(finished) < 2:
        return Importances(
            evaluator, len(finished), [], f"importance needs at least 2 finished configurations; {len(finished)} so far"
        )
    varying = [path for path in space if len({_key(c.params.get(path)) for c in finished}) > 1]
    if len(varying) < 2:
        which = f"only {varying[0]} varies" if varying else "no parameter varies"
        return Importances(evaluator, len(finished), [], f"{which}: nothing to weigh it against")
    if len({c.objective for c in finished}) == 1:
        return Importances(evaluator, len(finished), [], "the objective is the same for every configuration")
    distributions = {path: optuna_distribution(space[path]) for path in space}
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction="minimize")
    study.add_trials([frozen_trial(space, distributions, configuration) for configuration in finished])
    chosen = PedAnovaImportanceEvaluator() if evaluator == "ped_anova" else FanovaImportanceEvaluator(seed=FANOVA_SEED)
    shares = get_param_importances(study, evaluator=chosen, params=varying)
    objectives = [c.objective for c in finished if c.objective is not None]
    parameters = [
        ParameterImportance(
            path=path,
            importance=share,
            kind="choice" if space[path].choice is not None else "range",
            best=best_region(space[path], [c.params[path] for c in finished], objectives),
        )
        for path, share in sorted(shares.items(), key=lambda item: (-item[1], item[0]))
    ]
    return Importances(evaluator, len(finished), parameters, None)


def best_region(distribution: Distribution, values: Sequence[Any], objectives: Sequence[float]) -> Any:
    """A choice's value with the lowest mean objective (ties to the earlier choice); a range's [low, high]
    span of the values of the best quarter of the configurations (at least one) by objective."""
    if distribution.choice is not None:
        by_choice: dict[int, list[float]] = {}
        for value, objective in zip(values, objectives, strict=True):
            by_choice.setdefault(distribution.choice.index(value), []).append(objective)
        best = min(by_choice, key=lambda index: (statistics.fmean(by_choice[index]), index))
        return distribution.choice[best]
    ranked = sorted(zip(objectives, values, strict=True), key=lambda pair: pair[0])
    top = [value for _, value in ranked[: max(1, math.ceil(len(ranked) * BEST_QUANTILE))]]
    return [min(top), max(top)]


def _key(value: Any) -> str:
    """A value as a set can hold it: a choice may be a list or an object."""
    return repr(value)
