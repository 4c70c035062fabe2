"""What mattered in a sweep, over real HTTP and the real worker, on SQLite and on PostgreSQL + Redis: a search's
importances rank its parameters (summing to 1, each with a best region, the same answer twice and through the
SDK); a sweep with fewer than two finished configurations or one varying parameter has a reason instead; another
principal's sweep is a 404 (and the route is documented as one); and the sweep's accounting is what its trials' jobs report."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

import trainwell
from tests.stack import Stack, wait_for_sweep

EPOCHS = 2
BASE: dict[str, Any] = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": EPOCHS}
SPACE = {"optimizer.lr": {"loguniform": [1e-4, 0.5]}, "model.hidden": {"choice": [[8], [16, 16]]}}
SEARCH: dict[str, Any] = {
    "base": BASE,
    "search": {"space": SPACE, "sampler": "random", "trials": 8, "seed": 5},
    "seeds": [0],
    "max_parallel": 2,
}


def trials(client: httpx.Client, sweep_id: str) -> list[dict[str, Any]]:
    return client.get("/v1/jobs", params={"sweep_id": sweep_id, "limit": 200}).json()["data"]


def test_a_search_ranks_what_mattered_and_accounts_for_its_epochs(stack: Stack) -> None:
    key = stack.new_key(f"importance-{uuid.uuid4().hex[:6]}")
    with stack.client(key) as client:
        created = client.post("/v1/sweeps", json=SEARCH)
        assert created.status_code == 201, created.text
        sweep = wait_for_sweep(client, created.json()["id"])
        assert sweep["status"] == "succeeded" and sweep["counts"]["succeeded"] == 8, sweep["counts"]

        answered = client.get(f"/v1/sweeps/{sweep['id']}/importance")
        assert answered.status_code == 200, answered.text
        importance = answered.json()
        assert importance["sweep_id"] == sweep["id"] and importance["objective"] == "val_loss"
        assert importance["evaluator"] == "fanova" and importance["configurations"] == 8
        assert importance["reason"] is None
        parameters = importance["parameters"]
        assert {parameter["path"] for parameter in parameters} == set(SPACE)
        shares = [parameter["importance"] for parameter in parameters]
        assert sum(shares) == pytest.approx(1.0) and shares == sorted(shares, reverse=True)
        assert all(0 <= share <= 1 for share in shares)
        best = {parameter["path"]: parameter for parameter in parameters}
        low, high = best["optimizer.lr"]["best"]
        assert best["optimizer.lr"]["kind"] == "range" and 1e-4 <= low <= high <= 0.5
        assert best["model.hidden"]["kind"] == "choice" and best["model.hidden"]["best"] in ([8], [16, 16])
        # the best quarter of 8 by objective: the 2 best configurations' learning rates
        ranked = sorted(sweep["table"], key=lambda row: row["metrics"]["best_val_loss"]["mean"])
        assert sorted(row["values"]["optimizer.lr"] for row in ranked[:2]) == pytest.approx([low, high])
        assert client.get(f"/v1/sweeps/{sweep['id']}/importance").json() == importance, "seeded: the same answer"

        with trainwell.Client(base_url=stack.base_url, api_key=key) as sdk:
            read = sdk.sweeps.importance(sweep["id"])
        assert isinstance(read, trainwell.SweepImportance) and read.model_dump(mode="json") == importance

        jobs = trials(client, sweep["id"])
        assert len(jobs) == 8
        spent = sweep["accounting"]
        assert spent["epochs_trained"] == sum(job["summary"]["epochs_run"] for job in jobs)
        assert spent["epochs_full"] == 8 * EPOCHS and spent["epochs_trained"] <= spent["epochs_full"]
        assert spent["fraction"] == pytest.approx(spent["epochs_trained"] / spent["epochs_full"])
        leader = sweep["best"]
        row = next(row for row in sweep["table"] if row["cell"] == leader["best_cell"])
        assert leader["objective"] == pytest.approx(row["metrics"]["best_val_loss"]["mean"])
        assert leader["seeds"] == 1 and leader["objective_std"] is None, "one seed: no spread"


def test_too_few_configurations_or_one_varying_parameter_answer_a_reason(stack: Stack) -> None:
    with stack.client(stack.new_key(f"importance-few-{uuid.uuid4().hex[:6]}")) as client:
        body = {"base": BASE, "grid": {"optimizer.name": ["sgd", "adam"]}, "seeds": [0, 1], "max_parallel": 2}
        sweep = client.post("/v1/sweeps", json=body).json()
        early = client.get(f"/v1/sweeps/{sweep['id']}/importance")
        assert early.status_code == 200, early.text
        assert early.json()["parameters"] == [] and early.json()["configurations"] == 0
        assert "at least 2 finished configurations" in early.json()["reason"]

        ended = wait_for_sweep(client, sweep["id"])
        alone = client.get(f"/v1/sweeps/{sweep['id']}/importance").json()
        assert alone["configurations"] == 2 and alone["parameters"] == []
        assert "only optimizer.name varies" in alone["reason"]

        leader = ended["best"]
        row = next(row for row in ended["table"] if row["cell"] == leader["best_cell"])
        assert leader["seeds"] == 2 and leader["objective_std"] == pytest.approx(row["metrics"]["best_val_loss"]["std"])
        jobs = trials(client, sweep["id"])
        assert ended["accounting"]["epochs_trained"] == sum(job["summary"]["epochs_run"] for job in jobs)
        assert ended["accounting"]["epochs_full"] == 4 * EPOCHS


def test_another_principals_sweep_importance_is_not_found(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as alice, stack.client(stack.keys["bob"]) as bob:
        sweep = alice.post("/v1/sweeps", json={**SEARCH, "search": {**SEARCH["search"], "trials": 1}}).json()
        refused = bob.get(f"/v1/sweeps/{sweep['id']}/importance")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found", refused.text
        assert bob.get("/v1/sweeps/no-such-sweep/importance").status_code == 404
        assert alice.get(f"/v1/sweeps/{sweep['id']}/importance").status_code == 200
        wait_for_sweep(alice, sweep["id"])
    with stack.client() as anonymous:
        assert anonymous.get(f"/v1/sweeps/{sweep['id']}/importance").status_code == 401
        documented = anonymous.get("/openapi.json").json()["paths"]["/v1/sweeps/{sweep_id}/importance"]["get"]
    assert {"200", "401", "404"} <= set(documented["responses"]) and documented["summary"]
    schema = documented["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/SweepImportance")
