"""Fixtures of the scenario suite."""

from __future__ import annotations

import pytest
import torch

from tests.scenarios.catalog import OTHER_SEEDS, SCENARIOS
from tests.scenarios.outcomes import Outcome, run_scenario

torch.set_num_threads(1)  # tiny models: one thread is fastest, and steady on a busy machine


@pytest.fixture(scope="session")
def outcomes() -> dict[str, Outcome]:
    """Every scenario trained and diagnosed once for all the suite's modules (a minute of training)."""
    return {scenario.name: run_scenario(scenario) for scenario in SCENARIOS}


@pytest.fixture(scope="session")
def reseeded_outcomes() -> dict[tuple[str, int], Outcome]:
    """Every scenario again under the seeds in OTHER_SEEDS (a few minutes of training)."""
    return {
        (scenario.name, seed): run_scenario(scenario.reseeded(seed)) for scenario in SCENARIOS for seed in OTHER_SEEDS
    }
