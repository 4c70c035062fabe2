"""DELETE /v1/jobs/{id}: a job goes with everything it stored — metric history, diagnosis, exported
model, checkpoints, its probe jobs — its remedy jobs stay without the link, a second delete is a 404,
and another principal's job is not the caller's. A running job deleted mid-training stops, and the
checkpoint it wrote after the delete is removed by the reaper: the data directory is left without it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.processes import job_processes
from tests.sdk.test_cli import trainwell
from tests.service.test_model_download import download
from tests.specs import LINEAR_ON_CIRCLES
from tests.stack import Services, Stack, fault_services, finished, new_key, poll, wait_for, wait_for_diagnosis
from trainwell import Client, NotFoundError


def checkpoint_dirs(data_dir: Path) -> set[str]:
    root = data_dir / "checkpoints"
    return {path.name for path in root.iterdir() if path.is_dir()} if root.exists() else set()


def test_deleting_a_job_removes_what_it_stored_and_its_probes(stack: Stack) -> None:
    # a principal of its own: probes are made only with room in the principal's active jobs, which the
    # suite's other tests' jobs (still cancelling, say) must not take
    key = stack.new_key("job-deleter")
    with stack.client(key) as client, stack.client(stack.keys["bob"]) as bob:
        job = client.post("/v1/jobs", json={**LINEAR_ON_CIRCLES, "name": "delete-me"}).json()
        wait_for(client, job["id"], finished, timeout=600)
        diagnosis = wait_for_diagnosis(
            client, job["id"], ("ready",), timeout=600
        )  # its probes run on the shared worker
        probes = [probe["job_id"] for probe in diagnosis["probes"]]
        assert probes, diagnosis  # a linear model on circles is probed
        assert download(client, job["id"], "safetensors").status_code == 200
        remedy_code = next(f["code"] for f in diagnosis["findings"] if f["remedies"])
        remedy = client.post(f"/v1/jobs/{job['id']}/remedies/{remedy_code}")
        assert remedy.status_code == 201, remedy.text
        child = remedy.json()["id"]
        assert {job["id"], *probes} <= checkpoint_dirs(stack.data_dir)

        assert bob.delete(f"/v1/jobs/{job['id']}").status_code == 404
        refused = client.delete(f"/v1/jobs/{probes[0]}")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "job_is_probe", refused.text

        deleted = client.delete(f"/v1/jobs/{job['id']}")
        assert deleted.status_code == 204 and deleted.content == b""
        for gone in (job["id"], *probes):
            assert client.get(f"/v1/jobs/{gone}").status_code == 404
            assert client.get(f"/v1/jobs/{gone}/metrics").status_code == 404
            assert client.get(f"/v1/jobs/{gone}/diagnosis").status_code == 404
        assert client.get(f"/v1/jobs/{job['id']}/model", params={"format": "safetensors"}).status_code == 404
        listed = {j["id"] for j in client.get("/v1/jobs", params={"limit": 200}).json()["data"]}
        assert not listed & {job["id"], *probes}
        assert not checkpoint_dirs(stack.data_dir) & {job["id"], *probes}
        kept = client.get(f"/v1/jobs/{child}").json()
        assert kept["parent_id"] is None and kept["origin"] == "remedy"
        assert client.delete(f"/v1/jobs/{job['id']}").status_code == 404
    # the SDK's and the CLI's delete: a running remedy job stops and goes
    with Client(base_url=stack.base_url, api_key=key) as sdk:
        sdk.jobs.delete(child)
        with pytest.raises(NotFoundError):
            sdk.jobs.retrieve(child)
        with pytest.raises(NotFoundError):
            sdk.jobs.delete(child)
        other = sdk.jobs.create({**LINEAR_ON_CIRCLES, "epochs": 1, "diagnosis": {"probes": False}})
    shown = trainwell(stack, "jobs", "delete", other.id, key=key)
    assert shown.returncode == 0 and f"deleted {other.id}" in shown.stdout, shown
    assert trainwell(stack, "jobs", "delete", other.id, key=key).returncode == 2


def test_a_sweeps_trial_is_deleted_with_its_sweep_not_alone(stack: Stack) -> None:
    body = {"base": {**LINEAR_ON_CIRCLES, "epochs": 1}, "grid": {"optimizer.lr": [0.05]}, "seeds": [0]}
    with stack.client(stack.keys["alice"]) as client:
        sweep = client.post("/v1/sweeps", json=body).json()
        trials = client.get("/v1/jobs", params={"sweep_id": sweep["id"]}).json()["data"]
        refused = client.delete(f"/v1/jobs/{trials[0]['id']}")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "job_in_sweep", refused.text
        assert client.get(f"/v1/jobs/{trials[0]['id']}").status_code == 200
        client.post(f"/v1/sweeps/{sweep['id']}/cancel")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with fault_services(tmp_path) as running:
        yield running


def test_a_running_job_deleted_stops_and_leaves_no_checkpoint_behind(services: Services) -> None:
    """A 2 s lease (fault_services): the job process stops at its next heartbeat, and a checkpoint it
    wrote after the API removed its directory is removed by the reaper once it has not changed for a lease."""
    worker = services.start_worker()
    with services.client(new_key(services.database_url, "deleter")) as client:
        spec: dict[str, Any] = {
            "dataset": {"name": "digits"},
            "model": {"hidden": [64]},
            "epochs": 5000,
            "diagnosis": {"probes": False},
        }
        job = client.post("/v1/jobs", json=spec).json()
        poll(
            lambda: client.get(f"/v1/jobs/{job['id']}").json(),
            lambda j: j["progress"]["epoch"] >= 2,
            "the job never trained two epochs",
            timeout=120,
            every=0.2,
        )
        assert job["id"] in checkpoint_dirs(services.data_dir)
        assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
        assert client.get(f"/v1/jobs/{job['id']}").status_code == 404
        # its process stops (its heartbeat finds no row), and the slot trains the next job
        poll(
            lambda: {"processes": job_processes([worker.pid])},
            lambda state: not state["processes"],
            "the deleted job's process never stopped",
            timeout=60,
            every=0.2,
        )
        after = client.post("/v1/jobs", json={**spec, "epochs": 1}).json()
        assert wait_for(client, after["id"], finished, timeout=120)["status"] == "succeeded"
        # what a deleted job's process leaves when it writes a checkpoint after the API removed the
        # directory (a race this test cannot time): a directory no job row names, unchanged for a lease
        orphan = services.data_dir / "checkpoints" / "job_0000000000000000000000orphan"
        orphan.mkdir(parents=True)
        (orphan / "epoch-000003.pt").write_bytes(b"weights")
        past = time.time() - 10
        os.utime(orphan / "epoch-000003.pt", (past, past))
        os.utime(orphan, (past, past))
        poll(
            lambda: {"dirs": sorted(checkpoint_dirs(services.data_dir))},
            lambda state: job["id"] not in state["dirs"] and orphan.name not in state["dirs"],
            "the orphan checkpoint directories were never removed",
            timeout=60,
            every=0.5,
        )
        assert after["id"] in checkpoint_dirs(services.data_dir)  # a live job's directory stays
        assert "no longer exists: removed its checkpoint directory" in services.worker_logs()
