"""`client.sweeps.create(base, search=...)` against the real stack: a Search (or its dict) runs its sampled
configurations, the table's rows carry the values drawn, and a bad space is refused naming its field."""

from __future__ import annotations

import json

import pytest

import trainwell
from trainwell import Distribution, Search, SweepStatus

# iris trains an epoch in milliseconds: a trial costs the worker's start-up, not training
TINY_BASE = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "batch_size": 32, "epochs": 2}
WAIT_SECONDS = 300


def test_a_search_runs_its_configurations_and_tables_their_values(client: trainwell.Client) -> None:
    search = Search(space={"optimizer.lr": Distribution(loguniform=(1e-3, 0.3))}, sampler="random", trials=3)
    sweep = client.sweeps.create(TINY_BASE, search=search, seeds=[0], max_parallel=2)
    assert sweep.search == search and sweep.grid == {} and sweep.trials == 3
    assert sweep.parameters == ["optimizer.lr"]
    done = client.sweeps.wait(sweep, timeout=WAIT_SECONDS, poll_interval=0.2)
    assert done.status == SweepStatus.succeeded and done.counts.succeeded == 3, done.counts
    table = client.sweeps.table(done)
    lrs = [row.values["optimizer.lr"] for row in table]
    assert len(set(lrs)) == 3 and all(1e-3 <= lr <= 0.3 for lr in lrs), lrs
    frame = table.to_pandas()
    assert list(frame["optimizer.lr"]) == lrs


def test_a_bad_space_is_refused_naming_its_field(client: trainwell.Client) -> None:
    with pytest.raises(trainwell.UnprocessableEntityError) as refused:
        client.sweeps.create(TINY_BASE, search={"space": {"optimizer.lrr": {"uniform": [0.1, 0.2]}}, "trials": 2})
    assert refused.value.details[0]["field"] == "search.space.optimizer.lrr", json.dumps(refused.value.details)
