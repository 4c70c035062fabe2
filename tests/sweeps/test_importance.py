"""Parameter importance and the best regions on synthetic configurations, the accounting of epochs, and the
best cell's seed spread."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from api.services.sweep_comparison import accounting, compare
from core.sweep_importance import best_region, grid_space, importances
from core.sweep_sampler import Configuration
from store.sweeps import TrialRow
from trainwell.job import JobStatus
from trainwell.sweep import Distribution
from trainwell.sweep_grid import cells

LR = Distribution(loguniform=(1e-4, 0.5))
HIDDEN = Distribution(choice=[[8], [16, 16], [32]])
SPACE = {"optimizer.lr": LR, "model.hidden": HIDDEN, "batch_size": Distribution(integer=(8, 64))}


def search(n: int, *, seed: int = 0) -> list[Configuration]:
    """Configurations whose objective depends on the learning rate (a bowl around 0.01) and barely on the rest."""
    draw = random.Random(seed)
    stored = []
    for _ in range(n):
        lr = math.exp(draw.uniform(math.log(1e-4), math.log(0.5)))
        params = {
            "optimizer.lr": lr,
            "model.hidden": draw.choice(HIDDEN.choice or []),
            "batch_size": draw.randint(8, 64),
        }
        stored.append(Configuration(params, True, (math.log10(lr) + 2) ** 2 + 0.01 * params["batch_size"] / 64))
    return stored


def test_a_range_best_region_spans_the_best_quarter_and_a_choice_is_its_best_mean() -> None:
    values = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    objectives = [5.0, 1.0, 2.0, 6.0, 7.0, 8.0, 3.0, 4.0]
    assert best_region(LR, values, objectives) == [0.2, 0.3], "the 2 best of 8: 0.2 (1.0) and 0.3 (2.0)"
    assert best_region(LR, values[:3], objectives[:3]) == [0.2, 0.2], "a quarter of 3 rounds up to one"
    assert best_region(Distribution(integer=(8, 64)), [8, 64, 32, 16], [4.0, 3.0, 1.0, 2.0]) == [32, 32]
    hidden = [[8], [16, 16], [8], [32], [16, 16]]
    # [8]: mean 2.5; [16, 16]: mean 1.5; [32]: 1.6 — the mean decides, not the single best value
    assert best_region(HIDDEN, hidden, [1.0, 1.5, 4.0, 1.6, 1.5]) == [16, 16]
    assert best_region(HIDDEN, [[8], [32]], [1.0, 1.0]) == [8], "a tie goes to the earlier choice"


def test_importance_ranks_the_parameter_that_moves_the_objective_first_and_is_deterministic() -> None:
    found = importances(SPACE, search(30))
    assert found.evaluator == "fanova" and found.configurations == 30 and found.reason is None
    shares = [parameter.importance for parameter in found.parameters]
    assert sum(shares) == pytest.approx(1.0) and shares == sorted(shares, reverse=True)
    assert found.parameters[0].path == "optimizer.lr" and found.parameters[0].importance > 0.5, found.parameters
    low, high = found.parameters[0].best
    assert 1e-3 < low <= high < 0.1, "the bowl's bottom is at 0.01"
    assert {p.path: p.kind for p in found.parameters} == {
        "optimizer.lr": "range",
        "batch_size": "range",
        "model.hidden": "choice",
    }
    assert importances(SPACE, search(30)) == found, "fANOVA's forest is seeded"


def test_too_few_configurations_or_varying_parameters_have_a_reason_not_importances() -> None:
    one = importances(SPACE, search(1))
    assert one.parameters == [] and one.reason is not None and "2" in one.reason
    running = [Configuration(c.params, False, None) for c in search(5)]
    assert importances(SPACE, running).configurations == 0, "only finished configurations count"
    failed = [Configuration(c.params, True, None) for c in search(5)]
    assert importances(SPACE, failed).parameters == [], "a configuration without an objective is not weighed"
    only_lr = [Configuration({**c.params, "model.hidden": [8], "batch_size": 8}, True, c.objective) for c in search(6)]
    alone = importances(SPACE, only_lr)
    assert alone.parameters == [] and alone.reason is not None and "optimizer.lr" in alone.reason


def test_a_grid_is_weighed_as_choices_over_its_values() -> None:
    grid: dict[str, list[Any]] = {"optimizer.name": ["sgd", "adam"], "model.hidden": [[8], [16, 16]]}
    stored = [
        Configuration(cell.values, True, (0.2 if cell.values["optimizer.name"] == "adam" else 1.0) + 0.01 * cell.index)
        for cell in cells(grid)
    ]
    found = importances(grid_space(grid), stored)
    assert found.parameters[0].path == "optimizer.name", found.parameters
    assert found.parameters[0].best == "adam" and {p.kind for p in found.parameters} == {"choice"}
    assert sum(p.importance for p in found.parameters) == pytest.approx(1.0)


def row(position: int, cell: int, val_loss: float | None, *, run: int, full: int) -> TrialRow:
    summary = None if val_loss is None else {"best_metrics": {"val_loss": val_loss}, "epochs_run": run}
    status = JobStatus.succeeded if val_loss is not None else JobStatus.running
    return TrialRow(position, cell, position % 2, f"job_{position}", status, summary, None, None, run, full)


def test_the_accounting_sums_the_epochs_run_against_every_planned_trial_run_in_full() -> None:
    trials = [row(0, 0, 0.5, run=3, full=4), row(1, 0, 0.7, run=4, full=4), row(2, 1, None, run=1, full=4)]
    spent = accounting(trials, planned=6, epochs_full_each=4)
    assert (spent.epochs_trained, spent.epochs_full) == (8, 24), "three trials not sampled yet count in full"
    assert spent.fraction == pytest.approx(8 / 24)
    assert accounting([], planned=0, epochs_full_each=4).fraction is None


def test_the_best_cell_carries_its_objective_and_seed_spread() -> None:
    trials = [row(0, 0, 0.5, run=4, full=4), row(1, 0, 0.7, run=4, full=4), row(2, 1, 0.9, run=4, full=4)]
    best = compare(cells=cells({"x": [1, 2]}), trials=trials, verdicts={}, sharpness={}).best
    assert best is not None and best.best_cell == 0 and best.seeds == 2
    assert best.objective == pytest.approx(0.6) and best.objective_std == pytest.approx(math.sqrt(0.02))


def test_from_a_thousand_configurations_ped_anova_weighs_them() -> None:
    found = importances(SPACE, search(1000, seed=1))
    assert found.evaluator == "ped_anova" and found.configurations == 1000
    assert found.parameters[0].path == "optimizer.lr" and sum(p.importance for p in found.parameters) == pytest.approx(
        1
    )
