"""Sweeps over real HTTP, their trials trained by the real worker, on SQLite and on PostgreSQL + Redis:
bad grids refused with nothing stored, a sweep that runs max_parallel at a time and ends with its table,
Idempotency-Key, cancel, tenant isolation, and a big sweep that does not starve another principal."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from tests.stack import Stack, finished, poll, wait_for, wait_for_sweep

BASE = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "optimizer": {"lr": 0.05}, "epochs": 3}
SWEEP = {"name": "optimizers on iris", "base": BASE, "grid": {"optimizer.name": ["sgd", "adam"]}, "seeds": [0, 1]}


def trials(client: httpx.Client, sweep_id: str) -> list[dict[str, Any]]:
    return client.get("/v1/jobs", params={"sweep_id": sweep_id, "limit": 200}).json()["data"]


def nothing_stored(client: httpx.Client, before: tuple[int, int]) -> bool:
    sweeps = len(client.get("/v1/sweeps", params={"limit": 200}).json()["data"])
    jobs = len(client.get("/v1/jobs", params={"limit": 200}).json()["data"])
    return (sweeps, jobs) == before


def test_bad_grids_are_422_naming_the_key_or_cell_and_store_nothing(stack: Stack) -> None:
    with stack.client(stack.new_key(f"sweep-bad-{uuid.uuid4().hex[:6]}")) as client:
        before = (0, 0)
        unknown = client.post("/v1/sweeps", json={**SWEEP, "grid": {"optimizer.nam": ["sgd"]}})
        assert unknown.status_code == 422, unknown.text
        error = unknown.json()["error"]
        assert error["code"] == "invalid_sweep" and "grid.optimizer.nam" in error["message"]
        assert "name" in error["details"][0]["allowed"]

        refused = client.post("/v1/sweeps", json={**SWEEP, "grid": {"optimizer.name": ["sgd", "adamax"]}})
        assert refused.status_code == 422, refused.text
        detail = refused.json()["error"]["details"][0]
        assert detail["cell"] == 1 and detail["field"] == "optimizer.name" and "'adam'" in detail["allowed"]
        assert "cell 1" in refused.json()["error"]["message"]

        for body, field in [
            ({**SWEEP, "grid": {}}, "grid"),
            ({**SWEEP, "grid": {"batch_size": []}}, "grid.batch_size"),
            ({**SWEEP, "seeds": [0, 1.5]}, "seeds.1"),
            ({**SWEEP, "seeds": [0, 0]}, "seeds"),
            ({**SWEEP, "grid": {"batch_size": list(range(1, 300))}}, "grid"),  # 598 trials, past the cap of 500
            ({**SWEEP, "grid": {"epochs": [3, 100_000]}}, "epochs"),  # past the deployment's epoch limit
            ({**SWEEP, "max_parallel": 0}, "max_parallel"),
        ]:
            response = client.post("/v1/sweeps", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["error"]["details"][0]["field"] == field, (body, response.text)
        assert nothing_stored(client, before)


def test_a_sweep_runs_its_trials_max_parallel_at_a_time_and_ends_with_its_table(stack: Stack) -> None:
    with stack.client(stack.new_key(f"sweep-run-{uuid.uuid4().hex[:6]}")) as client:
        created = client.post("/v1/sweeps", json={**SWEEP, "max_parallel": 1})
        assert created.status_code == 201, created.text
        sweep = created.json()
        assert sweep["status"] == "running" and sweep["trials"] == 4
        assert sweep["counts"]["queued"] == 1 and sweep["counts"]["waiting"] == 3

        most_active = 0
        while (current := client.get(f"/v1/sweeps/{sweep['id']}").json())["status"] == "running":
            counts = current["counts"]
            most_active = max(most_active, counts["queued"] + counts["running"])
            time.sleep(0.1)
        assert most_active == 1, "max_parallel 1: one trial at a time"
        assert current["status"] == "succeeded" and current["counts"]["succeeded"] == 4, current["counts"]

        jobs = trials(client, sweep["id"])
        assert len(jobs) == 4 and {job["origin"] for job in jobs} == {"sweep"}
        assert {job["sweep_id"] for job in jobs} == {sweep["id"]}
        specs = sorted((job["spec"]["optimizer"]["name"], job["spec"]["seed"]) for job in jobs)
        assert specs == [("adam", 0), ("adam", 1), ("sgd", 0), ("sgd", 1)]
        assert all(job["spec"]["dataset"]["seed"] == 0 for job in jobs), "the seed varies init, not the split"
        assert all(job["spec"]["diagnosis"]["probes"] is False for job in jobs), "probes are off for trials"
        assert current["base"]["diagnosis"]["probes"] is False, "the base as its trials run"
        assert sum(current["counts"].values()) == current["trials"]

        table = current["table"]
        assert [row["values"] for row in table] == [{"optimizer.name": "sgd"}, {"optimizer.name": "adam"}]
        for row in table:
            assert row["succeeded"] == 2 and len(row["job_ids"]) == 2
            loss = row["metrics"]["best_val_loss"]
            assert loss["n"] == 2 and loss["mean"] > 0 and loss["std"] is not None
            assert row["seconds"]["n"] == 2 and row["seconds"]["mean"] > 0
        best = current["best"]
        assert best["metric"] == "best_val_loss" and {best["best_cell"], best["runner_up"]} == {0, 1}
        assert best["p_value"] is None or 0 <= best["p_value"] <= 1

        # the comparison of an ended sweep is kept: the same answer again
        assert client.get(f"/v1/sweeps/{sweep['id']}").json()["table"] == table
        listed = client.get("/v1/sweeps").json()["data"]
        assert [s["id"] for s in listed] == [sweep["id"]] and listed[0]["table"] == []


def test_an_idempotency_key_makes_one_sweep(stack: Stack) -> None:
    with stack.client(stack.new_key(f"sweep-key-{uuid.uuid4().hex[:6]}")) as client:
        body = {**SWEEP, "seeds": [0]}
        first = client.post("/v1/sweeps", json=body, headers={"Idempotency-Key": "one-sweep"})
        again = client.post("/v1/sweeps", json=body, headers={"Idempotency-Key": "one-sweep"})
        assert first.status_code == again.status_code == 201, (first.text, again.text)
        assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
        other = client.post("/v1/sweeps", json={**body, "seeds": [1]}, headers={"Idempotency-Key": "one-sweep"})
        assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
        assert len(client.get("/v1/sweeps").json()["data"]) == 1
        assert len(trials(client, first.json()["id"])) <= 2
        wait_for_sweep(client, first.json()["id"])


def test_cancel_ends_every_unfinished_trial_and_releases_nothing_more(stack: Stack) -> None:
    with stack.client(stack.new_key(f"sweep-cancel-{uuid.uuid4().hex[:6]}")) as client:
        body = {**SWEEP, "base": {**BASE, "epochs": 3000}, "grid": {"batch_size": [8, 16, 32]}, "max_parallel": 2}
        sweep = client.post("/v1/sweeps", json=body).json()
        poll(
            lambda: client.get(f"/v1/sweeps/{sweep['id']}").json(),
            lambda s: s["counts"]["running"] >= 1,
            "no trial started",
            120,
            every=0.1,
        )
        cancelled = client.post(f"/v1/sweeps/{sweep['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        for job in trials(client, sweep["id"]):
            assert wait_for(client, job["id"], finished, timeout=60)["status"] == "cancelled"
        time.sleep(1.0)
        ended = client.get(f"/v1/sweeps/{sweep['id']}").json()
        assert len(trials(client, sweep["id"])) == 2, "nothing released after the cancel"
        assert ended["counts"]["cancelled"] == 6 and ended["counts"]["waiting"] == 0, ended["counts"]
        again = client.post(f"/v1/sweeps/{sweep['id']}/cancel")
        assert again.status_code == 409 and again.json()["error"]["code"] == "sweep_finished"


def test_another_principals_sweep_is_not_found(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as alice, stack.client(stack.keys["bob"]) as bob:
        sweep = alice.post("/v1/sweeps", json={**SWEEP, "seeds": [0]}).json()
        assert bob.get(f"/v1/sweeps/{sweep['id']}").status_code == 404
        assert bob.post(f"/v1/sweeps/{sweep['id']}/cancel").status_code == 404
        assert sweep["id"] not in {s["id"] for s in bob.get("/v1/sweeps").json()["data"]}
        assert trials(bob, sweep["id"]) == []
        wait_for_sweep(alice, sweep["id"])


def test_a_big_sweep_does_not_starve_another_principals_job(stack: Stack) -> None:
    with (
        stack.client(stack.new_key(f"sweep-big-{uuid.uuid4().hex[:6]}")) as sweeper,
        stack.client(stack.new_key(f"sweep-other-{uuid.uuid4().hex[:6]}")) as other,
    ):
        body = {**SWEEP, "grid": {"batch_size": list(range(8, 48))}, "seeds": [0, 1, 2, 3, 4], "max_parallel": 2}
        sweep = sweeper.post("/v1/sweeps", json=body).json()
        assert sweep["trials"] == 200
        job = other.post("/v1/jobs", json={**BASE, "diagnosis": {"probes": False}}).json()
        started = wait_for(other, job["id"], lambda j: j["started_at"] is not None, timeout=300)["started_at"]
        poll(
            lambda: sweeper.get(f"/v1/sweeps/{sweep['id']}").json(),
            lambda s: s["counts"]["succeeded"] >= 10,
            "the sweep's tenth trial did not finish",
            600,
            every=0.5,
        )
        sweeper.post(f"/v1/sweeps/{sweep['id']}/cancel")
        begun = sorted(j["started_at"] for j in trials(sweeper, sweep["id"]) if j["started_at"])
        assert started < begun[9], "the job waited behind at most max_parallel trials, not behind the sweep"
