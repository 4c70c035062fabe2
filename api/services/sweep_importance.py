"""A sweep's parameter importances: its stored configurations (a grid's cells, or a search's draws) with
their objectives, weighed by Optuna's evaluators (core/sweep_importance.py). An ended sweep's are kept
beside its comparison: its configurations no longer change, and fANOVA's forest takes seconds at 500."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from api.services.sweeps import own_sweep
from core.sweep_importance import grid_space, importances
from store import sweeps as sweep_store
from store.principals import Caller
from store.sweep_search import configurations
from trainwell.sweep import OBJECTIVE_METRIC, Search, SweepImportance, SweepStatus
from trainwell.sweep_grid import cells


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
    found = importances(space, stored)
    answer = SweepImportance(
        sweep_id=sweep.id,
        objective=OBJECTIVE_METRIC,
        evaluator=found.evaluator,
        configurations=found.configurations,
        parameters=found.parameters,
        reason=found.reason,
    )
    # beside the comparison once that is kept (the sweep ended and its configurations no longer change)
    if SweepStatus(sweep.status).is_final and sweep.result is not None:
        kept_result = {**sweep.result, "importance": answer.model_dump(mode="json")}
        sweep_store.store_result(session=session, sweep_id=sweep.id, result=kept_result)
        session.commit()
    return answer
