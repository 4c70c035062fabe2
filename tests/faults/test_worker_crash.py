"""A killed worker costs nothing: the reaper requeues its job, the next attempt resumes
from the last epoch checkpoint and ends bit-identical to an uninterrupted run; a job
that loses its worker on its last attempt fails with a final diagnosis; a message
delivered twice trains once. Real processes, PostgreSQL and Redis."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from celery import Celery

from core.broker import TRAIN_TASK, celery_config
from core.settings import Settings
from tests.faults.series import assert_same_run, series_of
from tests.stack import Services, fault_services, finished, new_key, wait_for
from trainer.checkpoint import newest_checkpoint

# digits with a wide MLP: a few hundred ms an epoch, so a kill lands mid-epoch
SPEC = {
    "dataset": {"name": "digits"},
    "model": {"hidden": [256, 256]},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    "schedule": {"name": "cosine", "warmup_epochs": 2},
    "augmentation": {"gaussian_noise": 0.1},
    "batch_size": 16,
    "epochs": 10,
    "seed": 7,
}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    yield from _services(tmp_path)


@pytest.fixture
def single_attempt_services(tmp_path: Path) -> Iterator[Services]:
    yield from _services(tmp_path, max_attempts="1")


def _services(tmp_path: Path, **settings: str) -> Iterator[Services]:
    with fault_services(tmp_path, **settings) as running:
        yield running


def _client(services: Services) -> httpx.Client:
    key = new_key(services.database_url, "crash-tester")
    return services.client(key)


def _final_weights(services: Services, job_id: str) -> dict[str, torch.Tensor]:
    path = newest_checkpoint(services.data_dir / "checkpoints" / job_id)
    assert path is not None, f"job {job_id} left no checkpoint"
    checkpoint = torch.load(path, weights_only=True)
    return checkpoint["model"]


def test_kill_9_mid_epoch_resumes_to_a_bit_identical_result(services: Services) -> None:
    first = services.start_worker()
    with _client(services) as client:
        crashed = client.post("/v1/jobs", json=SPEC).json()
        wait_for(client, crashed["id"], lambda j: j["progress"]["epoch"] >= 3, timeout=120)
        os.killpg(first.pid, signal.SIGKILL)  # the Celery parent and the pool child training the job
        first.wait()
        killed_at = client.get(f"/v1/jobs/{crashed['id']}").json()
        assert killed_at["status"] == "running" and killed_at["progress"]["epoch"] < SPEC["epochs"]

        services.start_worker()
        done = wait_for(client, crashed["id"], finished, timeout=180)
        assert done["status"] == "succeeded", (done, services.worker_logs()[-4000:])
        assert done["attempt"] == 2, "the reaper requeued it once and the new worker claimed it"
        # the first attempt's checkpoint went when the second ended (TRAINWELL_KEEP_CHECKPOINTS=final)
        kept = sorted(path.name for path in (services.data_dir / "checkpoints" / crashed["id"]).glob("*.pt"))
        assert kept == ["attempt-2.pt"], kept
        logs = services.worker_logs()
        assert "worker lost" in logs
        # structured lines: each names the job and the attempt it belongs to
        assert f"job={crashed['id']} attempt=1 training" in logs and f"job={crashed['id']} attempt=2 training" in logs

        assert "trainwell_reaper_requeued_total 1.0" in client.get("/metrics").text

        reference = client.post("/v1/jobs", json=SPEC).json()
        reference = wait_for(client, reference["id"], finished, timeout=180)
        assert reference["status"] == "succeeded" and reference["attempt"] == 1

        resumed, uninterrupted = series_of(client, crashed["id"]), series_of(client, reference["id"])
        assert_same_run(resumed, uninterrupted, SPEC["epochs"])
        assert done["summary"]["best_metrics"]["val_loss"] == reference["summary"]["best_metrics"]["val_loss"]

        weights, reference_weights = _final_weights(services, crashed["id"]), _final_weights(services, reference["id"])
        assert weights.keys() == reference_weights.keys()
        for name, tensor in weights.items():
            assert torch.equal(tensor, reference_weights[name]), f"weights {name} are not bit-identical"


def test_a_job_that_loses_its_worker_on_its_last_attempt_fails_with_a_final_diagnosis(
    single_attempt_services: Services,
) -> None:
    services = single_attempt_services
    first = services.start_worker()
    with _client(services) as client:
        job = client.post("/v1/jobs", json={**SPEC, "diagnosis": {"probes": False}}).json()
        wait_for(client, job["id"], lambda j: j["progress"]["epoch"] >= 1, timeout=120)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        services.start_worker()  # its reaper finds the stale heartbeat; the one attempt allowed is spent
        done = wait_for(client, job["id"], finished, timeout=60)
        assert done["status"] == "failed" and done["error"]["reason"] == "worker_lost", done
        diagnosis = client.get(f"/v1/jobs/{job['id']}/diagnosis").json()  # stored with the final status
        assert diagnosis["status"] == "not_applicable" and "worker_lost" in diagnosis["summary"], diagnosis
        with client.stream("GET", f"/v1/jobs/{job['id']}/events", timeout=30) as response:
            events = [line.removeprefix("event: ") for line in response.iter_lines() if line.startswith("event:")]
        assert events[-2:] == ["status", "diagnosis"], events  # returns only because the server ends it
        assert "trainwell_reaper_failed_total 1.0" in client.get("/metrics").text


def test_a_message_delivered_twice_trains_once(services: Services) -> None:
    services.start_worker()
    sender = Celery("duplicate-sender")
    sender.conf.update(celery_config(Settings(database_url=services.database_url, broker_url=services.broker_url)))
    with _client(services) as client:
        job = client.post("/v1/jobs", json={**SPEC, "epochs": 3, "model": {"hidden": [16]}}).json()
        sender.send_task(TRAIN_TASK, args=[job["id"]], queue="train")  # the same job, a second message
        done = wait_for(client, job["id"], finished, timeout=120)
        assert done["status"] == "succeeded" and done["attempt"] == 1
        deadline = time.monotonic() + 30
        # the copy is dropped by the pool child, before it forks a process for it
        while f"job {job['id']}: not queued any more; dropped before forking" not in services.worker_logs():
            assert time.monotonic() < deadline, "the second delivery was never consumed (or cost a fork)"
            time.sleep(0.2)
        series = series_of(client, job["id"])
        assert [epoch for epoch, _ in series[("train_loss", 0)]] == [1, 2, 3]
