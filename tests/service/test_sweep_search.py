"""Search sweeps over real HTTP, their configurations sampled by the releases and trained by the real worker,
on SQLite and on PostgreSQL + Redis: a random search runs to `succeeded` with distinct values within its
range and draws the same configurations again from the same seed; a TPE search runs end to end; a bad
space is a 422 naming the field with nothing stored; an Idempotency-Key replays a search and a cancel ends
the configurations not drawn yet with the rest; and an API restarted mid-search (with a release from
yet another process between) continues the same sequence to exactly `trials` configurations."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.sweep_sampler import Configuration, ask
from store.db import make_engine
from store.models import Sweep, utcnow
from store.sweeps import release_trials
from tests.stack import Stack, fault_services, new_key, poll, wait_for_sweep
from trainwell.sweep import Search

BASE = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 2}
LR = {"optimizer.lr": {"loguniform": [1e-4, 0.5]}}


def search_sweep(space: dict[str, Any], *, sampler: str, trials: int, **extra: Any) -> dict[str, Any]:
    search = {"space": space, "sampler": sampler, "trials": trials, "seed": 3}
    return {"base": BASE, "search": search, "seeds": [0], "max_parallel": 2, **extra}


def trials(client: httpx.Client, sweep_id: str) -> list[dict[str, Any]]:
    return client.get("/v1/jobs", params={"sweep_id": sweep_id, "limit": 200}).json()["data"]


def test_a_random_search_runs_to_the_end_with_distinct_values_in_range(stack: Stack) -> None:
    with stack.client(stack.new_key(f"search-random-{uuid.uuid4().hex[:6]}")) as client:
        created = client.post("/v1/sweeps", json=search_sweep(LR, sampler="random", trials=6))
        assert created.status_code == 201, created.text
        sweep = created.json()
        assert sweep["trials"] == 6 and sweep["grid"] == {} and sweep["search"]["sampler"] == "random"
        assert sweep["counts"]["queued"] == 2 and sweep["counts"]["waiting"] == 4, "sampled as there is room"

        ended = wait_for_sweep(client, sweep["id"])
        assert ended["status"] == "succeeded" and ended["counts"]["succeeded"] == 6, ended["counts"]
        table = ended["table"]
        assert [row["cell"] for row in table] == list(range(6))
        lrs = [row["values"]["optimizer.lr"] for row in table]
        assert len(set(lrs)) == 6 and all(1e-4 <= lr <= 0.5 for lr in lrs), lrs
        assert all(row["succeeded"] == 1 and row["metrics"]["best_val_loss"]["n"] == 1 for row in table)
        jobs = trials(client, sweep["id"])
        assert sorted(job["spec"]["optimizer"]["lr"] for job in jobs) == sorted(lrs), "each trial runs its values"
        assert ended["best"]["best_cell"] in range(6)

        again = client.post("/v1/sweeps", json=search_sweep(LR, sampler="random", trials=2)).json()
        repeated = wait_for_sweep(client, again["id"])
        assert [row["values"] for row in repeated["table"]] == [row["values"] for row in table[:2]], (
            "the same sampler seed draws the same first configurations"
        )


def test_a_tpe_search_over_several_kinds_of_range_runs_end_to_end(stack: Stack) -> None:
    space = {
        **LR,
        "model.hidden": {"choice": [[8], [16, 16]]},
        "batch_size": {"int": [8, 64], "log": True},
        "optimizer.momentum": {"uniform": [0, 0.9]},
    }
    with stack.client(stack.new_key(f"search-tpe-{uuid.uuid4().hex[:6]}")) as client:
        created = client.post("/v1/sweeps", json=search_sweep(space, sampler="tpe", trials=5, max_parallel=1))
        assert created.status_code == 201, created.text
        ended = wait_for_sweep(client, created.json()["id"])
        assert ended["status"] == "succeeded" and ended["counts"]["succeeded"] == 5, ended["counts"]
        for row in ended["table"]:
            values = row["values"]
            assert set(values) == set(space)
            assert values["model.hidden"] in ([8], [16, 16]) and 8 <= values["batch_size"] <= 64
            assert isinstance(values["batch_size"], int) and 0 <= values["optimizer.momentum"] <= 0.9
        assert ended["search"]["space"]["batch_size"] == {"int": [8, 64], "log": True}


def test_a_bad_space_is_422_naming_the_field_and_stores_nothing(stack: Stack) -> None:
    with stack.client(stack.new_key(f"search-bad-{uuid.uuid4().hex[:6]}")) as client:
        good = search_sweep(LR, sampler="random", trials=4)
        cases: list[tuple[dict[str, Any], str]] = [
            (search_sweep({"optimizer.lr": {"normal": [0, 1]}}, sampler="tpe", trials=4), "search.space.optimizer.lr"),
            (search_sweep({"optimizer.lr": {"uniform": [0.5, 0.1]}}, sampler="tpe", trials=4), "search.space"),
            (search_sweep({"optimizer.lr": {"loguniform": [0, 1]}}, sampler="tpe", trials=4), "search.space"),
            (search_sweep({"optimizer.lrr": {"uniform": [0.1, 0.5]}}, sampler="tpe", trials=4), "search.space"),
            (search_sweep({"model.hidden": {"choice": [[8], [-1]]}}, sampler="tpe", trials=4), "search.space"),
            (search_sweep({"batch_size": {"uniform": [8, 64]}}, sampler="tpe", trials=4), "search.space"),
            (search_sweep({"optimizer.lr": {"uniform": [0.1, 500.0]}}, sampler="tpe", trials=4), "search.space"),
            (search_sweep({"epochs": {"int": [2, 100_000]}}, sampler="tpe", trials=4), "search.space.epochs"),
            ({**good, "grid": {"batch_size": [8]}}, "search"),
            ({**good, "search": {**good["search"], "trials": 501}}, "search.trials"),
            ({**good, "search": {**good["search"], "sampler": "grid"}}, "search.sampler"),
            ({key: value for key, value in good.items() if key != "search"}, "grid"),
        ]
        for body, field in cases:
            response = client.post("/v1/sweeps", json=body)
            assert response.status_code == 422, (body, response.text)
            named = response.json()["error"]["details"][0]["field"]
            assert named.startswith(field), (body, field, response.text)
        assert client.get("/v1/sweeps").json()["data"] == [] and client.get("/v1/jobs").json()["data"] == []


def test_a_search_replays_its_key_and_a_cancel_ends_its_unsampled_configurations_too(stack: Stack) -> None:
    with stack.client(stack.new_key(f"search-cancel-{uuid.uuid4().hex[:6]}")) as client:
        body = search_sweep(LR, sampler="tpe", trials=4, max_parallel=1)
        body["base"] = {**BASE, "epochs": 3000}
        key = {"Idempotency-Key": "one-search"}
        first = client.post("/v1/sweeps", json=body, headers=key)
        again = client.post("/v1/sweeps", json=body, headers=key)
        assert first.status_code == again.status_code == 201, (first.text, again.text)
        assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
        sweep_id = first.json()["id"]
        poll(
            lambda: client.get(f"/v1/sweeps/{sweep_id}").json(),
            lambda current: current["counts"]["running"] == 1,
            "the first configuration's trial did not start",
            120,
            every=0.1,
        )
        cancelled = client.post(f"/v1/sweeps/{sweep_id}/cancel").json()
        assert cancelled["status"] == "cancelled"
        poll(
            lambda: client.get(f"/v1/sweeps/{sweep_id}").json(),
            lambda current: current["counts"]["cancelled"] == 4,
            "the running trial and the three configurations never drawn were not all cancelled",
            60,
            every=0.2,
        )
        assert len(trials(client, sweep_id)) == 1, "nothing drawn or released after the cancel"


def test_a_restarted_api_and_another_process_continue_the_same_search(tmp_path: Path) -> None:
    """A random search: configuration N is what a sampler rebuilt from configurations 0..N-1 draws, whichever
    process asked for it. The API is stopped and started mid-search, and the test's own process releases one
    configuration through the store (sending nothing: the reaper sends it a lease later)."""
    with fault_services(tmp_path) as services:
        services.start_worker()
        with services.client(new_key(services.database_url, "search-restart")) as client:
            body = search_sweep(LR, sampler="random", trials=6, seeds=[0, 1], max_parallel=1)
            sweep = client.post("/v1/sweeps", json={**body, "base": {**BASE, "epochs": 3}}).json()
            poll(
                lambda: client.get(f"/v1/sweeps/{sweep['id']}").json(),
                lambda current: current["trials"] - current["counts"]["waiting"] >= 3,
                "no third trial released",
                120,
                every=0.2,
            )

            assert services.api is not None
            services.api.terminate()
            services.api.wait(timeout=30)
            engine = make_engine(services.database_url)
            try:
                with Session(engine) as session:
                    session.execute(update(Sweep).where(Sweep.id == sweep["id"]).values(max_parallel=3))
                    released = release_trials(session=session, sweep_id=sweep["id"], max_active_jobs=100, now=utcnow())
                    session.commit()
            finally:
                engine.dispose()
            assert released, "the other process had room: it sampled and released a configuration"
            services.start_api()

            ended = wait_for_sweep(client, sweep["id"], timeout=300)
            jobs = trials(client, sweep["id"])
        assert ended["status"] == "succeeded" and ended["counts"]["succeeded"] == 12, ended["counts"]
        assert len(jobs) == 12 and len({job["id"] for job in jobs}) == 12
        assert Counter((job["spec"]["optimizer"]["lr"], job["spec"]["seed"]) for job in jobs).most_common(1)[0][1] == 1
        table = ended["table"]
        assert [row["cell"] for row in table] == list(range(6)), "exactly `trials` configurations, each once"
        assert all(len(row["job_ids"]) == 2 and row["succeeded"] == 2 for row in table)
        search = Search.model_validate(ended["search"])
        stored = [Configuration(row["values"], True, None) for row in table]
        for index, row in enumerate(table):
            expected = ask(search, stored[:index])["optimizer.lr"]
            assert math.isclose(row["values"]["optimizer.lr"], expected), (index, row["values"], expected)
