"""Workers announce their queues and devices; a `cuda` job is refused while no live worker takes it,
instead of waiting forever or failing on a CPU worker after it was queued."""

from __future__ import annotations

import pytest
import torch

from tests.stack import Stack

CUDA_JOB = {"name": "needs-a-gpu", "dataset": {"name": "iris"}, "device": "cuda", "epochs": 2}


def test_the_worker_is_listed_with_its_queues_and_devices(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        workers = client.get("/v1/workers")
        assert workers.status_code == 200, workers.text
        listed = workers.json()["data"]
        assert listed, "the stack's worker announces itself once it consumes"
        assert all("train" in w["queues"] for w in listed)
        assert all(any(d["kind"] == "cpu" for d in w["devices"]) for w in listed)
        assert client.get("/v1/workers", headers={"Authorization": ""}).status_code == 401
        ready = client.get("/readyz").json()
        assert ready["workers"].get("train", 0) >= 1, ready


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a stack without a GPU worker")
def test_a_cuda_job_is_refused_while_no_gpu_worker_is_live(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        before = [j["id"] for j in client.get("/v1/jobs", params={"limit": 200}).json()["data"]]
        refused = client.post("/v1/jobs", json=CUDA_JOB)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "no_gpu_worker" and error["details"][0]["field"] == "device", error
        assert "GET /v1/workers" in error["message"]
        after = [j["id"] for j in client.get("/v1/jobs", params={"limit": 200}).json()["data"]]
        assert after == before, "nothing is stored for a refused job"
        accepted = client.post("/v1/jobs", json={**CUDA_JOB, "device": "auto"})
        assert accepted.status_code == 201, accepted.text
