"""A superseded attempt stops and writes nothing: two workers, the job's process paused (SIGSTOP) past its
lease, so the reaper requeues the job and the other worker claims attempt 2; when the paused process
resumes (SIGCONT), its heartbeat is refused, it stops at once without a final status or a diagnosis,
and the job's metrics and diagnosis are an uninterrupted run's. Paused inside a transaction that holds
its job's row lock, it is superseded all the same (the reaper waited on that lock for as long as the
process stayed paused: attempt 2 never started)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.processes import alive, job_process, pause_mid_transaction
from tests.faults.series import assert_same_run, series_of
from tests.stack import (
    Services,
    fault_services,
    finished,
    new_key,
    wait_for,
    wait_for_diagnosis,
)

SPEC = {
    "dataset": {"name": "digits"},
    "model": {"hidden": [256, 256]},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "augmentation": {"gaussian_noise": 0.1},
    "batch_size": 16,
    "epochs": 8,
    "seed": 11,
    "diagnosis": {"probes": False},
}
LEASE_SECONDS = 5


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with fault_services(tmp_path, lease_seconds=str(LEASE_SECONDS)) as running:
        running.start_worker()
        running.start_worker()
        yield running


def _diagnosis(client: httpx.Client, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/jobs/{job_id}/diagnosis").json()
    return {
        "status": body["status"],
        "verdict": body["verdict"],
        "findings": sorted(finding["code"] for finding in body["findings"]),
    }


@pytest.mark.parametrize("moment", ["at any moment", "inside a transaction"])
def test_a_paused_attempt_that_wakes_up_after_its_lease_writes_nothing(services: Services, moment: str) -> None:
    with services.client(new_key(services.database_url, "fencing")) as client:
        job = client.post("/v1/jobs", json=SPEC).json()
        wait_for(client, job["id"], lambda j: j["progress"]["epoch"] >= 3, timeout=120)
        _, pid = job_process([worker.pid for worker in services.workers])
        if moment == "inside a transaction":
            pause_mid_transaction(pid, services.database_url)
        else:
            os.kill(pid, signal.SIGSTOP)
        paused = time.monotonic()
        try:
            # the other worker claims the requeued job: attempt 2
            wait_for(client, job["id"], lambda j: j["attempt"] == 2 and j["status"] == "running", timeout=30)
            time.sleep(max(0.0, paused + LEASE_SECONDS + 2 - time.monotonic()))  # paused 7 s in all
        finally:
            os.kill(pid, signal.SIGCONT)
        woke = time.monotonic()
        while alive(pid):  # its next heartbeat tells it the job moved on
            assert time.monotonic() - woke < 5, "the superseded attempt went on training"
            time.sleep(0.05)

        done = wait_for(client, job["id"], finished, timeout=120)
        assert done["status"] == "succeeded" and done["attempt"] == 2, (done, services.worker_logs()[-4000:])
        wait_for_diagnosis(client, job["id"])
        done_diagnosis = _diagnosis(client, job["id"])
        logs = services.worker_logs()
        prefix = f"job={job['id']} attempt=1 "
        assert prefix + "superseded" in logs, logs[-4000:]
        attempt_1 = [line for line in logs.splitlines() if prefix in line]
        assert not [line for line in attempt_1 if " done: " in line or " diagnosis: " in line], attempt_1

        reference = wait_for(client, client.post("/v1/jobs", json=SPEC).json()["id"], finished, timeout=120)
        assert reference["status"] == "succeeded" and reference["attempt"] == 1
        wait_for_diagnosis(client, reference["id"])
        resumed, uninterrupted = series_of(client, job["id"]), series_of(client, reference["id"])
        assert_same_run(resumed, uninterrupted, SPEC["epochs"])
        assert done["summary"]["best_metrics"]["val_loss"] == reference["summary"]["best_metrics"]["val_loss"]
        assert done_diagnosis == _diagnosis(client, reference["id"]) == _diagnosis(client, job["id"])
