"""An ASHA search survives kill -9 of its worker mid-rung and a restart of the API mid-search: it ends with
the same trials and the same rung decisions, on the same values, as the same search run uninterrupted.

The trial killed between its first rung (epoch 1) and its second (epoch 3) resumes from its checkpoint on a
new attempt and reaches the second rung once; no decision is taken twice (the rungs' primary key) and none
is lost (each is written with its epoch's metrics). One trial at a time (max_parallel 1), so that both runs
reach the rungs in the same order. Real processes, PostgreSQL and Redis."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from store.db import make_engine
from store.sweep_rungs import rung_records
from tests.stack import Services, fault_services, new_key, poll, wait_for, wait_for_sweep

SEARCH = {
    "base": {
        "dataset": {"name": "digits"},
        "model": {"hidden": [128, 128]},
        "optimizer": {"name": "adam"},
        "batch_size": 32,
        "epochs": 9,
    },
    "search": {"space": {"optimizer.lr": {"loguniform": [1e-6, 0.1]}}, "sampler": "random", "trials": 7, "seed": 5},
    "seeds": [0],
    "max_parallel": 1,
    "early_stop": {"asha": {"min_epochs": 1, "reduction_factor": 3}},
}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with fault_services(tmp_path) as running:
        running.start_worker()
        yield running


def _jobs(client: httpx.Client, sweep_id: str) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = client.get("/v1/jobs", params={"sweep_id": sweep_id, "limit": 200}).json()["data"]
    return jobs


def _decisions(services: Services, client: httpx.Client, sweep_id: str) -> list[tuple[float, int, int, float, bool]]:
    """(lr, rung, epoch, value, promoted) in the order the rungs were reached."""
    lr = {job["id"]: job["spec"]["optimizer"]["lr"] for job in _jobs(client, sweep_id)}
    engine = make_engine(services.database_url)
    try:
        with Session(engine) as session:
            records = rung_records(session=session, sweep_id=sweep_id)
            return [(lr[r.job_id], r.rung, r.epoch, r.value, r.promoted) for r in records]
    finally:
        engine.dispose()


def _outcome(client: httpx.Client, sweep: dict[str, Any]) -> list[tuple[float, str, int, int | None]]:
    """Per trial: lr, status, epochs run, and the rung it was stopped at."""
    return sorted(
        (
            job["spec"]["optimizer"]["lr"],
            job["status"],
            job["summary"]["epochs_run"],
            (job["summary"].get("stopped_early") or {}).get("rung"),
        )
        for job in _jobs(client, sweep["id"])
    )


@pytest.mark.timeout(1200)
def test_kill_9_and_an_api_restart_mid_search_keep_the_rung_decisions(services: Services) -> None:
    with services.client(new_key(services.database_url, "asha-crash")) as client:
        calm = wait_for_sweep(client, client.post("/v1/sweeps", json=SEARCH).json()["id"], timeout=600)
        assert calm["status"] == "succeeded", calm["counts"]
        expected = _decisions(services, client, calm["id"])
        assert any(not promoted for *_, promoted in expected), "the search stops some trial"
        assert any(rung == 1 for _, rung, *_ in expected), "and some trial reaches the second rung"

        sweep = client.post("/v1/sweeps", json=SEARCH).json()
        # the first trial to pass the first rung and be past it, before the second: killed there
        promoted_first = poll(
            lambda: [
                job
                for job in _jobs(client, sweep["id"])
                if job["status"] == "running" and (job["progress"] or {}).get("epoch", 0) >= 2
            ],
            bool,
            "no trial got past its first rung",
            300,
            every=0.05,
        )[0]
        worker = services.workers[-1]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        services.start_worker()
        wait_for(client, promoted_first["id"], lambda job: job["attempt"] >= 2, timeout=120)

        # the API restarted while the search goes on (the releases, the reaper's included, continue it)
        assert services.api is not None
        services.api.terminate()
        services.api.wait(timeout=30)
        services.start_api()

        ended = wait_for_sweep(client, sweep["id"], timeout=600)
        assert ended["status"] == "succeeded", ended["counts"]
        assert _decisions(services, client, sweep["id"]) == expected
        assert _outcome(client, ended) == _outcome(client, calm)
        assert ended["accounting"] == calm["accounting"]
