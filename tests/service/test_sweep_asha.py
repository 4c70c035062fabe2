"""ASHA on a grid sweep over real HTTP, on SQLite and on PostgreSQL + Redis: the hopeless learning rates,
reaching the first rung after the good ones, end there `succeeded` with the reason in their summary, and
the sweep counts what it saved; a sweep whose trials cannot be judged at rungs is a 422 with nothing stored."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.stack import Stack, wait_for_sweep

BASE = {
    "dataset": {"name": "iris"},
    "model": {"hidden": [8]},
    "optimizer": {"name": "adam"},
    "batch_size": 16,
    "epochs": 9,
}
# the good rates first: the first trial to reach a rung always goes on (core/asha.py)
RATES = [0.01, 0.03, 0.003, 0.1, 1e-5, 1e-6]
ASHA = {"asha": {"metric": "val_loss", "min_epochs": 1, "reduction_factor": 3}}


def trials(client: httpx.Client, sweep_id: str) -> list[dict[str, Any]]:
    return client.get("/v1/jobs", params={"sweep_id": sweep_id, "limit": 200}).json()["data"]


def test_a_grid_sweep_with_asha_stops_the_hopeless_rates_at_the_first_rung(stack: Stack) -> None:
    body = {"base": BASE, "grid": {"optimizer.lr": RATES}, "seeds": [0], "max_parallel": 2, "early_stop": ASHA}
    with stack.client(stack.new_key(f"asha-grid-{uuid.uuid4().hex[:6]}")) as client:
        created = client.post("/v1/sweeps", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["early_stop"] == ASHA
        ended = wait_for_sweep(client, created.json()["id"], timeout=600)
        assert ended["status"] == "succeeded" and ended["counts"]["succeeded"] == len(RATES), ended["counts"]
        jobs = {job["spec"]["optimizer"]["lr"]: job for job in trials(client, ended["id"])}
        for lr in (1e-5, 1e-6):
            summary = jobs[lr]["summary"]
            assert jobs[lr]["status"] == "succeeded"
            stop = summary["stopped_early"]
            assert (stop["rung"], stop["epoch"], stop["metric"]) == (0, 1, "val_loss"), stop
            assert summary["epochs_run"] == 1 and stop["value"] > stop["cutoff"], stop
            assert "is not in the top 1/3" in stop["reason"], stop
        assert "stopped_early" not in jobs[0.01]["summary"], "the first to reach each rung goes on"
        assert jobs[0.01]["summary"]["epochs_run"] == 9
        stopped = [lr for lr, job in jobs.items() if "stopped_early" in job["summary"]]
        accounting = ended["accounting"]
        assert accounting["stopped_early"] == len(stopped)
        assert accounting["epochs_trained"] == sum(job["summary"]["epochs_run"] for job in jobs.values())
        assert accounting["epochs_trained"] < accounting["epochs_full"] == 9 * len(RATES)
        rows = {row["values"]["optimizer.lr"]: row for row in ended["table"]}
        assert all(rows[lr]["stopped_early"] == (lr in stopped) for lr in RATES)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base": {**BASE, "dataset": {"name": "iris", "validation": {"kfold": 3}}}}, "early_stop.asha"),
        ({"early_stop": {"asha": {"min_epochs": 9}}}, "early_stop.asha.min_epochs"),
        ({"early_stop": {"asha": {"metric": "val_mae"}}}, "early_stop.asha.metric"),
        ({"early_stop": {"asha": {"reduction_factor": 1}}}, "early_stop.asha.reduction_factor"),
        ({"early_stop": {"hyperband": {}}}, "early_stop"),
    ],
)
def test_a_sweep_whose_trials_cannot_be_judged_at_rungs_is_refused(
    stack: Stack, change: dict[str, Any], field: str
) -> None:
    body = {"base": BASE, "grid": {"optimizer.lr": [0.01, 0.1]}, "seeds": [0], "early_stop": ASHA, **change}
    with stack.client(stack.new_key(f"asha-refused-{uuid.uuid4().hex[:6]}")) as client:
        refused = client.post("/v1/sweeps", json=body)
        assert refused.status_code == 422, refused.text
        fields = [detail["field"] for detail in refused.json()["error"]["details"]]
        assert any(name.startswith(field) for name in fields), refused.json()
        assert client.get("/v1/sweeps").json()["data"] == [], "nothing stored"
        assert client.get("/v1/jobs").json()["data"] == []
