"""A worker killed mid-sweep costs the sweep nothing: every trial still runs exactly once. The worker is
killed twice with kill -9 (the Celery parent, its pool child and the job's process): once while a trial
trains, once just as a trial has ended (before or after it released the next). The reaper requeues the
trial that lost its worker and releases what the dead worker could not; the sweep ends with one
succeeded job per (cell, seed). Real processes, PostgreSQL and Redis."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from store.db import make_engine
from store.models import Sweep, utcnow
from store.sweeps import release_trials
from tests.stack import Services, fault_services, new_key, poll, wait_for

SWEEP = {
    "name": "crash-safe sweep",
    "base": {
        "dataset": {"name": "digits"},
        "model": {"hidden": [256, 256]},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
        "epochs": 4,
    },
    "grid": {"batch_size": [16, 32]},
    "seeds": [0, 1, 2],
    "max_parallel": 2,
}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    # REQUEUE_AFTER_SECONDS stays at its default (300 s, past every wait here): a trial whose release was
    # committed by a worker killed before its send must be sent by the reaper a lease after its release.
    with fault_services(tmp_path) as running:
        yield running


def _sweep(client: httpx.Client, sweep_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/sweeps/{sweep_id}").json()
    return body


def _trials(client: httpx.Client, sweep_id: str) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = client.get("/v1/jobs", params={"sweep_id": sweep_id, "limit": 200}).json()["data"]
    return jobs


def test_a_release_whose_sender_died_is_sent_a_lease_later(services: Services) -> None:
    """The release is committed and its sender dies before the send: here the test is that sender (it
    commits a release through the store, as the API and the worker do, and sends nothing)."""
    services.start_worker()
    with services.client(new_key(services.database_url, "sweep-unsent")) as client:
        spec = {**SWEEP, "grid": {"batch_size": [32]}, "seeds": [0, 1], "max_parallel": 1}
        sweep = client.post("/v1/sweeps", json={**spec, "base": {**SWEEP["base"], "epochs": 1}}).json()
        first = poll(lambda: _trials(client, sweep["id"]), lambda jobs: bool(jobs), "no trial released", 30, every=0.1)
        engine = make_engine(services.database_url)
        try:
            with Session(engine) as session:
                session.execute(update(Sweep).where(Sweep.id == sweep["id"]).values(max_parallel=2))
                released = release_trials(session=session, sweep_id=sweep["id"], max_active_jobs=100, now=utcnow())
                session.commit()  # and no message is ever sent for it
        finally:
            engine.dispose()
        assert len(released) == 1 and released[0].job_id != first[0]["id"]
        # the lease is 2 s and the reaper runs every 0.5 s; 300 s (the resend of a lost message) is far off
        trial = wait_for(client, released[0].job_id, lambda job: job["status"] == "succeeded", timeout=120)
        assert trial["attempt"] == 1, trial
        logs = services.worker_logs()
        assert f"job {released[0].job_id}: still queued, its message not in the broker; sent again" in logs


def _kill(services: Services) -> None:
    worker = services.workers[-1]
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()


def test_a_worker_killed_mid_sweep_leaves_every_trial_done_exactly_once(services: Services) -> None:
    services.start_worker()
    with services.client(new_key(services.database_url, "sweep-crash")) as client:
        sweep = client.post("/v1/sweeps", json=SWEEP).json()
        first = poll(lambda: _trials(client, sweep["id"]), lambda jobs: bool(jobs), "no trial released", 30, every=0.1)
        killed = wait_for(client, first[-1]["id"], lambda j: j["progress"]["epoch"] >= 2, timeout=120)
        _kill(services)  # while a trial trains
        services.start_worker()

        def ended(jobs: list[dict[str, Any]]) -> int:
            return sum(job["status"] == "succeeded" for job in jobs)

        before = ended(_trials(client, sweep["id"]))
        poll(lambda: _trials(client, sweep["id"]), lambda jobs: ended(jobs) > before, "no trial ended", 180, every=0.02)
        _kill(services)  # just as a trial has ended
        services.start_worker()

        done = poll(
            lambda: _sweep(client, sweep["id"]), lambda s: s["status"] != "running", "sweep did not end", 200, every=0.5
        )
        assert done["status"] == "succeeded", (done["counts"], services.worker_logs()[-4000:])
        jobs = _trials(client, sweep["id"])
        assert len(jobs) == 6 and {job["status"] for job in jobs} == {"succeeded"}, [j["status"] for j in jobs]
        runs = Counter((job["spec"]["batch_size"], job["spec"]["seed"]) for job in jobs)
        assert runs == Counter({(b, s): 1 for b in (16, 32) for s in (0, 1, 2)}), runs
        # the second kill may land on it again, on its second attempt
        assert next(job for job in jobs if job["id"] == killed["id"])["attempt"] >= 2, "it resumed on a new attempt"
        assert [row["succeeded"] for row in done["table"]] == [3, 3]
        assert done["counts"]["succeeded"] == 6 and done["counts"]["waiting"] == 0
