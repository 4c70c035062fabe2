"""The sweeps in examples/sweeps/ are valid requests whose every trial's spec validates, within the default
cap, each a comparison of at least two cells over at least three seeds (a mean ± std needs them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.settings import Settings
from trainwell.sweep import SweepRequest
from trainwell.sweep_grid import cells, expand
from trainwell.sweep_search import check_space

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "sweeps").glob("*.yaml"))


def test_there_is_one_example_per_lesson() -> None:
    assert {path.stem for path in EXAMPLES} == {"batch-size", "optimizers", "losses", "normalization"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_an_example_sweep_expands_into_valid_trials(path: Path) -> None:
    request = SweepRequest.model_validate(yaml.safe_load(path.read_text()))
    trials = expand(request, max_trials=Settings().max_sweep_trials)
    assert len(cells(request.grid)) >= 2 and len(request.seeds) >= 3
    assert len(trials) == len(cells(request.grid)) * len(request.seeds)
    assert all(trial.spec.diagnosis.probes is False for trial in trials)


SEARCHES = sorted((Path(__file__).resolve().parents[2] / "examples" / "searches").glob("*.yaml"))


@pytest.mark.parametrize("path", SEARCHES, ids=lambda path: path.stem)
def test_an_example_search_is_a_valid_request_with_rungs(path: Path) -> None:
    request = SweepRequest.model_validate(yaml.safe_load(path.read_text()))
    assert request.search is not None and request.grid is None
    check_space(request, max_trials=Settings().max_sweep_trials)  # raises on a refused value
    assert request.early_stop is not None and request.early_stop.asha.rungs(request.base.epochs)
