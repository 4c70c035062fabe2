"""The events stream through the SDK, wait() following it, and uploaded datasets, against the real stack."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import trainwell
from tests.sdk.conftest import TINY_IRIS
from tests.stack import Stack
from trainwell import DiagnosisEvent, EpochEvent, StatusEvent


def test_events_in_order_then_resume(client: trainwell.Client) -> None:
    job = client.jobs.create({**TINY_IRIS, "name": "sdk-events"})
    events = list(client.jobs.events(job))

    assert isinstance(events[0], StatusEvent)
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert all("train_loss" in e.metrics for e in epochs)
    final, diagnosis = events[-2:]
    assert isinstance(final, StatusEvent) and final.status == trainwell.JobStatus.succeeded
    assert isinstance(diagnosis, DiagnosisEvent) and diagnosis.diagnosis.verdict is not None
    statuses = [e.status.value for e in events if isinstance(e, StatusEvent)]
    assert statuses[-1] == "succeeded" and "running" in statuses
    assert all(e.id for e in events)

    resumed = list(client.jobs.events(job.id, last_event_id=epochs[0].id))
    assert [type(e).__name__ for e in resumed] == ["EpochEvent", "EpochEvent", "StatusEvent", "DiagnosisEvent"]
    assert [e.epoch for e in resumed if isinstance(e, EpochEvent)] == [2, 3]

    with pytest.raises(trainwell.BadRequestError):
        list(client.jobs.events(job.id, last_event_id="not-an-id"))


def test_wait_follows_events_and_prints_the_verdict(
    client: trainwell.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    job = client.jobs.create({**TINY_IRIS, "name": "sdk-wait-events"})
    done = job.wait(progress=True, timeout=120)
    assert done.status == trainwell.JobStatus.succeeded and done.progress.epoch == 3
    verdict = client.jobs.diagnosis(done).verdict
    assert verdict is not None
    assert f"verdict: {verdict.value}" in capfd.readouterr().err


def test_async_events_and_wait(stack: Stack) -> None:
    async def scenario() -> None:
        async with trainwell.AsyncClient(base_url=stack.base_url, api_key=stack.keys["alice"]) as client:
            job = await client.jobs.create({**TINY_IRIS, "name": "sdk-async-events"})
            waited = await job.wait(progress=False, timeout=120)
            assert waited.status == trainwell.JobStatus.succeeded
            kinds = [type(e).__name__ async for e in client.jobs.events(job)]
            assert kinds[-2:] == ["StatusEvent", "DiagnosisEvent"] and kinds.count("EpochEvent") == 3

    asyncio.run(scenario())


def test_upload_a_dataset_and_train_on_it(client: trainwell.Client, tmp_path: Path) -> None:
    rows = ["x1,x2,label"] + [f"{i % 7 / 7:.3f},{(i * 3) % 11 / 11:.3f},{'yes' if i % 2 else 'no'}" for i in range(80)]
    csv = tmp_path / "toy.csv"
    csv.write_text("\n".join(rows) + "\n")

    dataset = client.datasets.upload(csv, target="label", name="sdk-toy")
    assert dataset.id.startswith("ds_") and dataset.task == "classification" and dataset.rows == 80
    assert dataset.columns == ["x1", "x2"] and sorted(dataset.classes or []) == ["no", "yes"]
    assert client.datasets.upload(csv, target="label", name="sdk-toy").id == dataset.id  # same content
    assert client.datasets.retrieve(dataset.id) == dataset
    assert dataset.id in [d.id for d in client.datasets.list()]

    spec = {**TINY_IRIS, "name": "sdk-uploaded", "dataset": {"name": dataset.id}, "epochs": 2}
    done = client.jobs.create(spec).wait(progress=False, timeout=120)
    assert done.status == trainwell.JobStatus.succeeded, done.error
