"""Failed jobs end like every other job: a final diagnosis (`not_applicable`, naming why it has no verdict),
an event stream that ends with it, and an SDK `wait` that returns. Real HTTP, worker and database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import trainwell
from tests.datasets.files import blobs_csv
from tests.stack import Stack, start_stack, stop_stack, wait_for_diagnosis

STREAM_SECONDS = 180.0  # a stream ends right after the final status and diagnosis (the budget holds a busy queue)
NO_PROBES = {"diagnosis": {"probes": False}}


def _within(seconds: float, work: Callable[[], Any]) -> Any:
    """work()'s result, failing if it has not returned after `seconds` (it keeps running in a daemon thread)."""
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds:.0f}s"
    return outcome[0]


def _follow(stack: Stack, job_id: str) -> tuple[list[trainwell.JobEvent], trainwell.Job]:
    """The job's whole event stream, then what the SDK's `wait` returns; each must end on its own."""
    with trainwell.Client(base_url=stack.base_url, api_key=stack.keys["alice"]) as sdk:
        events: list[trainwell.JobEvent] = _within(STREAM_SECONDS, lambda: list(sdk.jobs.events(job_id)))
        job: trainwell.Job = _within(STREAM_SECONDS, lambda: sdk.jobs.wait(job_id, progress=True))
    return events, job


def _assert_ends_not_applicable(events: list[trainwell.JobEvent], reason: str) -> trainwell.Diagnosis:
    *_, status, last = events
    assert isinstance(status, trainwell.StatusEvent) and status.status == "failed"
    assert status.error is not None and status.error.reason == reason, status
    assert isinstance(last, trainwell.DiagnosisEvent), f"the stream ended without a diagnosis: {events}"
    assert last.diagnosis.status == "not_applicable" and last.diagnosis.verdict is None, last.diagnosis
    return last.diagnosis


def test_a_job_whose_data_cannot_be_loaded_gets_a_final_diagnosis_and_its_stream_ends(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        # content no other test uploads (uploads are content-addressed), so removing its file breaks no one
        upload = client.post(
            "/v1/datasets", files={"file": ("gone.csv", blobs_csv(seed=4711))}, data={"target": "label"}
        )
        assert upload.status_code == 201, upload.text
        dataset_id = upload.json()["id"]
        (stack.data_dir / "datasets" / f"{dataset_id}.npz").unlink()  # lost from the data dir before it runs

        job = client.post("/v1/jobs", json={"dataset": {"name": dataset_id}, "epochs": 3, **NO_PROBES}).json()
        events, waited = _follow(stack, job["id"])
        diagnosis = _assert_ends_not_applicable(events, "dataset")
        assert "dataset" in diagnosis.summary and dataset_id in diagnosis.summary, diagnosis.summary
        assert waited.status == "failed" and waited.error is not None and waited.error.reason == "dataset"
        stored = wait_for_diagnosis(client, job["id"], statuses=("not_applicable",), timeout=10)
        assert stored["summary"] == diagnosis.summary and stored["findings"] == []


@pytest.fixture
def cpu_stack_taking_gpu_jobs(tmp_path: Path) -> Iterator[Stack]:
    """A worker told to consume the `gpu` queue on a host without a GPU: the API then accepts cuda jobs."""
    stack = start_stack(tmp_path, worker_queues='["train", "gpu"]')
    stack.keys["alice"] = stack.new_key("alice")
    yield stack
    stop_stack(stack)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a worker without a CUDA GPU")
def test_a_run_that_failed_before_its_first_epoch_is_not_called_a_good_fit(cpu_stack_taking_gpu_jobs: Stack) -> None:
    # the trainer raises at once ("device 'cuda' was requested, but this worker has no CUDA GPU"); plain SGD on
    # unnormalized wine features still draws spec findings, none of which is evidence of a fit
    stack = cpu_stack_taking_gpu_jobs
    spec = {
        "name": "cuda-on-a-cpu-worker",
        "dataset": {"name": "wine", "feature_norm": "none"},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "device": "cuda",
        "epochs": 3,
        **NO_PROBES,
    }
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json=spec).json()
        events, waited = _follow(stack, job["id"])
        diagnosis = _assert_ends_not_applicable(events, "exception")
        assert "before its first epoch" in diagnosis.summary, diagnosis.summary
        assert not any(isinstance(e, trainwell.EpochEvent) for e in events)
        assert waited.status == "failed" and waited.verdict is None
        listed = client.get(f"/v1/jobs/{job['id']}").json()
        assert listed["verdict"] is None and listed["error"]["reason"] == "exception"
