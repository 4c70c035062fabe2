"""The metric rows are the product: a checkpoint is never ahead of the metrics that describe it.

Two outages on a throwaway PostgreSQL cluster, with a short lease so the reaper acts within the test:
(a) the database stays down longer than the job's process retries its last writes, so the process
exits with its rows unwritten, and the next attempt resumes from a checkpoint that already holds the
last epoch; (b) the job's process is killed -9 while its rows wait in memory. Each ends with every
epoch's metrics present exactly once: the checkpoint carries the epoch records and the next attempt
re-sends them.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.faults.processes import checkpointed_epoch, job_process, job_processes
from tests.servers import PostgresCluster, postgres_cluster
from tests.stack import Services, finished, make_services, new_key, poll, redis_database, wait_for

# a few hundred ms an epoch, so the outage begins while epochs remain
SPEC = {
    "dataset": {"name": "digits"},
    "model": {"hidden": [256, 256]},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "batch_size": 16,
    "epochs": 8,
    "seed": 3,
    "diagnosis": {"probes": False},
}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, PostgresCluster]]:
    """One cluster and one API + worker for both outages (each test leaves the cluster running)."""
    tmp_path = tmp_path_factory.mktemp("durability")
    with postgres_cluster() as cluster:
        database_url = cluster.create_database("trainwell")
        with redis_database() as broker_url:
            running = make_services(
                tmp_path,
                database_url=database_url,
                broker_url=broker_url,
                heartbeat_seconds="0.2",
                lease_seconds="5",
                reaper_interval_seconds="0.5",
            )
            try:
                running.start_api()
                running.start_worker()
                yield running, cluster
            finally:
                running.stop()


def _assert_every_epoch_once(client: httpx.Client, job: dict[str, Any], services: Services) -> None:
    series = client.get(f"/v1/jobs/{job['id']}/metrics").json()["series"]
    epoch_series = [s for s in series if not s["name"].startswith("step_")]
    assert {"train_loss", "val_loss"} <= {s["name"] for s in epoch_series}
    for s in epoch_series:
        epochs = [p["epoch"] for p in s["points"]]
        assert epochs == list(range(1, SPEC["epochs"] + 1)), (s["name"], epochs, services.worker_logs()[-3000:])
    assert job["summary"]["epochs_run"] == SPEC["epochs"]


def _submit_and_stop_database_at_epoch_2(
    client: httpx.Client, services: Services, cluster: PostgresCluster
) -> dict[str, Any]:
    # after the last test's restart, the API's first statement on a dropped connection answers 503 once
    submitted = poll(lambda: _submit(client), lambda r: r["status"] != 503, "no 201 for the job", 30, every=0.5)
    assert submitted["status"] == 201, submitted
    job: dict[str, Any] = submitted["body"]
    wait_for(client, job["id"], lambda j: j["progress"]["epoch"] >= 2, timeout=120)
    cluster.stop()
    return job


def _submit(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=SPEC)
    return {"status": response.status_code, "body": response.json()}


def test_a_database_down_longer_than_the_final_retries_loses_no_metric(
    services: tuple[Services, PostgresCluster],
) -> None:
    running, cluster = services
    with running.client(new_key(running.database_url, "durability")) as client:
        job = _submit_and_stop_database_at_epoch_2(client, running, cluster)
        checkpoints = running.data_dir / "checkpoints" / job["id"]
        deadline = time.monotonic() + 60
        while checkpointed_epoch(checkpoints) < SPEC["epochs"]:  # it trains on, and checkpoints, in the dark
            assert time.monotonic() < deadline, "the job did not finish training during the outage"
            time.sleep(0.2)
        # longer than the ~32 s the job's process retries its last writes before it gives up and exits
        time.sleep(40)
        cluster.start()

        done = wait_for(client, job["id"], finished, timeout=120)
        assert done["status"] == "succeeded" and done["attempt"] == 2, (done, running.worker_logs()[-4000:])
        _assert_every_epoch_once(client, done, running)


def test_a_job_process_killed_while_its_rows_are_buffered_loses_no_metric(
    services: tuple[Services, PostgresCluster],
) -> None:
    running, cluster = services
    workers = [worker.pid for worker in running.workers]
    earlier = frozenset(pid for _, pid in job_processes(workers))  # the test before's job may still diagnose
    with running.client(new_key(running.database_url, "durability")) as client:
        job = _submit_and_stop_database_at_epoch_2(client, running, cluster)
        checkpoints = running.data_dir / "checkpoints" / job["id"]
        deadline = time.monotonic() + 60
        while checkpointed_epoch(checkpoints) < 5:  # epochs 3.. trained, their rows only in memory
            assert time.monotonic() < deadline, "the job did not train on during the outage"
            time.sleep(0.1)
        _, pid = job_process(workers, excluding=earlier)
        os.kill(pid, signal.SIGKILL)
        time.sleep(3)
        cluster.start()

        done = wait_for(client, job["id"], finished, timeout=120)
        assert done["status"] == "succeeded" and done["attempt"] == 2, (done, running.worker_logs()[-4000:])
        _assert_every_epoch_once(client, done, running)
