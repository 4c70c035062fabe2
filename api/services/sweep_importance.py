"""A sweep's parameter importances: its stored configurations (a grid's cells, or a search's draws) with
their objectives, weighed by Optuna's evaluators (core/sweep_importance.py). An ended sweep's are kept
beside its comparison: its configurations no longer change, and fANOVA's forest takes seconds at 500.
While a sweep runs, each API process keeps the last answers by what they were computed from (the
finished configurations and their objectives): a dashboard polling a running sweep asks again every few
seconds, and the answer changes only when another configuration finishes."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import replace

from sqlalchemy.orm import Session

from api.services.sweeps import own_sweep
from core.sweep_importance import grid_space, importances
from core.sweep_sampler import Configuration
from store import sweeps as sweep_store
from store.principals import Caller
from store.sweep_search import configurations
from trainwell.sweep import OBJECTIVE_METRIC, Distribution, Search, SweepImportance, SweepStatus
from trainwell.sweep_grid import cells

# answers kept per API process, by (sweep id, what they were computed from); the oldest goes first
KEPT_WHILE_RUNNING = 32
_recent: OrderedDict[tuple[str, str], SweepImportance] = OrderedDict()


def read_importance(*, session: Session, caller: Caller, sweep_id: str) -> SweepImportance:
    sweep = own_sweep(session=session, caller=caller, sweep_id=sweep_id)
    kept = (sweep.result or {}).get("importance")
    if kept is not None:
        return SweepImportance.model_validate(kept)
    stored = configurations(session=session, sweep_id=sweep.id)  # one per cell, in cell order
    if sweep.search is None:  # a grid's trials carry no params: its cells' values are the grid's product
        grid_cells = cells(sweep.grid)
        stored = [replace(configuration, params=grid_cells[index].values) for index, configuration in enumerate(stored)]
        space = grid_space(sweep.grid)
    else:
        space = Search.model_validate(sweep.search).space
    finished = [(configuration.params, configuration.objective) for configuration in stored if configuration.finished]
    key = (sweep.id, json.dumps(finished, sort_keys=True, default=str))
    answer = _recent.get(key)
    if answer is None:
        answer = _computed(sweep.id, space, stored)
        _recent[key] = answer
        while len(_recent) > KEPT_WHILE_RUNNING:
            _recent.popitem(last=False)
    else:
        _recent.move_to_end(key)
    # beside the comparison once that is kept (the sweep ended and its configurations no longer change)
    if SweepStatus(sweep.status).is_final and sweep.result is not None:
        kept_result = {**sweep.result, "importance": answer.model_dump(mode="json")}
        sweep_store.store_result(session=session, sweep_id=sweep.id, result=kept_result)
        session.commit()
    return answer


def _computed(sweep_id: str, space: dict[str, Distribution], stored: list[Configuration]) -> SweepImportance:
    found = importances(space, stored)
    return SweepImportance(
        sweep_id=sweep_id,
        objective=OBJECTIVE_METRIC,
        evaluator=found.evaluator,
        configurations=found.configurations,
        parameters=found.parameters,
        reason=found.reason,
    )
