"""The service on a GPU host: jobs submitted over HTTP train on the GPU, then are
diagnosed and get a loss landscape there, each in its own process forked from the worker.

What only a GPU can test: the worker's pool child imports torch but never initialises CUDA, so every
job's fork can (worker/job_process.py; a parent that initialised it would leave "Cannot re-initialize
CUDA in forked subprocess" to its children). Three jobs in a row, each diagnosed in its own process after
training, then a landscape in a further fork, prove it still holds after the first. Runs only where a
GPU is present.
"""

from __future__ import annotations

import pytest
import torch

from tests.stack import Stack, finished, wait_for, wait_for_diagnosis, wait_for_landscape

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

DIGITS = {"dataset": {"name": "digits"}, "model": {"hidden": [32]}, "optimizer": {"name": "adam", "lr": 0.01}}


def test_jobs_train_diagnose_and_map_their_landscape_on_the_gpu(stack: Stack) -> None:
    gpu = f"cuda:0 ({torch.cuda.get_device_name(0)})"
    with stack.client(stack.keys["alice"]) as client:
        jobs = [
            client.post("/v1/jobs", json={**DIGITS, "name": name, "epochs": 4, **choice}).json()
            for name, choice in (
                ("cuda-bf16", {"device": "cuda", "precision": "bf16"}),
                ("auto", {"device": "auto"}),
                ("cuda-cnn", {"device": "cuda", "model": {"kind": "cnn", "channels": [8], "hidden": [32]}}),
            )
        ]
        for job in jobs:
            done = wait_for(client, job["id"], finished)
            assert done["status"] == "succeeded", (done, stack.log())
            assert done["summary"]["device"] == gpu, done["summary"]
            assert done["summary"]["best_metrics"]["val_accuracy"] > 0.8

        diagnosis = wait_for_diagnosis(client, jobs[0]["id"])
        curvature = diagnosis["curvature"]  # Hessian-vector products on the GPU, in the job's process
        assert curvature["skipped_reason"] is None and curvature["lambda_max"] > 0, diagnosis

        assert client.post(f"/v1/jobs/{jobs[1]['id']}/landscape").status_code == 202
        landscape = wait_for_landscape(client, jobs[1]["id"])
        assert landscape["status"] == "ready", landscape["error"]
        line = landscape["line"]
        assert line["train_loss"][line["alphas"].index(1.0)] < line["train_loss"][line["alphas"].index(0.0)]
