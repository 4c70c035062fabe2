"""The Client against the real stack: submit → wait → metrics → plot, typed errors, pagination, async."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from pathlib import Path

import pytest

import trainwell
from tests.sdk.conftest import TINY_IRIS
from tests.stack import Stack
from trainwell import JobSpec, JobStatus


def test_submit_wait_metrics_round_trip(client: trainwell.Client, tmp_path: Path) -> None:
    job = client.jobs.create(JobSpec.model_validate(TINY_IRIS))
    assert isinstance(job, trainwell.JobHandle) and isinstance(job, trainwell.Job)
    assert job.status == JobStatus.queued and job.spec.optimizer.lr == 0.05 and job.progress.epochs == 3

    done = job.wait(progress=True, timeout=120, poll_interval=0.2)
    assert done.status == JobStatus.succeeded, done.error
    assert done.progress.epoch == 3 and done.finished_at is not None
    assert done.summary is not None and done.summary["best_metrics"]["val_accuracy"] > 0.3

    metrics = done.metrics(names=["train_loss", "val_loss"])
    assert isinstance(metrics, trainwell.JobMetrics)
    assert {(s.name, s.fold) for s in metrics.series} == {("train_loss", 0), ("val_loss", 0)}
    train_loss = metrics.get("train_loss")
    assert train_loss is not None and train_loss.epochs == [1, 2, 3]
    second = train_loss.points[1].step
    zoomed = client.jobs.metrics(done.id, names=["train_loss"], from_step=second, to_step=second, max_points=4)
    assert zoomed.series[0].epochs == [2], "from_step / to_step zoom in"

    frame = client.jobs.metrics(done.id).to_pandas()
    assert list(frame.columns) == ["name", "fold", "epoch", "step", "value"]
    assert {"train_accuracy", "val_accuracy", "test_loss", "lr"} <= set(frame["name"])
    wide = frame.pivot_table(index="epoch", columns="name", values="value")
    assert list(wide.index) == [1, 2, 3] and wide["train_loss"].tolist() == train_loss.values

    png = tmp_path / "curves.png"
    figure = done.plot(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loss_axes, score_axes = figure.axes
    assert {line.get_label() for line in loss_axes.get_lines()} >= {"train", "val", "test"}
    assert score_axes.get_ylabel() == "accuracy"
    assert any(str(line.get_label()).startswith("best epoch") for line in loss_axes.get_lines())


def test_a_spec_file_is_submitted_as_written(client: trainwell.Client, tmp_path: Path) -> None:
    spec_file = tmp_path / "typo.yaml"
    spec_file.write_text("dataset: {name: iris}\noptimizer: {name: adam, learning_rate: 0.1}\nepochs: 1\n")
    with pytest.raises(trainwell.UnprocessableEntityError) as caught:
        client.jobs.create(spec_file)
    assert "optimizer.learning_rate" in caught.value.message

    with pytest.raises(trainwell.SpecFileError, match=r"missing\.yaml"):
        client.jobs.create(tmp_path / "missing.yaml")


def test_status_errors_are_typed_and_name_the_problem(stack: Stack, client: trainwell.Client) -> None:
    with (
        trainwell.Client(base_url=stack.base_url, api_key="tw_00000000_forged") as forged,
        pytest.raises(trainwell.AuthenticationError) as unauthorized,
    ):
        forged.jobs.list()
    assert unauthorized.value.status_code == 401 and unauthorized.value.code == "unauthorized"
    assert isinstance(unauthorized.value, trainwell.APIStatusError)

    with pytest.raises(trainwell.NotFoundError) as missing:
        client.jobs.retrieve("no-such-job")
    assert missing.value.status_code == 404 and "no-such-job" in missing.value.message
    assert missing.value.request_id and len(missing.value.request_id) == 32  # the server's X-Request-ID

    with pytest.raises(trainwell.UnprocessableEntityError) as invalid:
        client.jobs.create({**TINY_IRIS, "optimizer": {"name": "adamax"}})
    error = invalid.value
    assert error.status_code == 422 and error.code == "invalid_request"
    assert "optimizer.name" in error.message and "'adamw'" in error.message
    assert any(d["field"] == "optimizer.name" for d in error.details)

    with pytest.raises(trainwell.UnprocessableEntityError, match="names"):
        client.jobs.metrics(_any_job_id(client), names=["val_los"])

    # another principal's job is "not found", never "forbidden"
    someone_elses = _any_job_id(client)
    with (
        trainwell.Client(base_url=stack.base_url, api_key=stack.keys["bob"]) as bob,
        pytest.raises(trainwell.NotFoundError),
    ):
        bob.jobs.retrieve(someone_elses)


def _any_job_id(client: trainwell.Client) -> str:
    page = client.jobs.list(limit=1)
    if page.data:
        return page.data[0].id
    return client.jobs.create({**TINY_IRIS, "epochs": 1}).id


def test_list_walks_every_page(stack: Stack, fresh_key: str) -> None:
    with trainwell.Client(base_url=stack.base_url, api_key=fresh_key) as client:
        created = [client.jobs.create({**TINY_IRIS, "name": f"page-{i}", "epochs": 1}) for i in range(5)]
        for job in created:  # keep the worker free for the other tests
            with contextlib.suppress(trainwell.ConflictError):  # it may have finished already
                job.cancel()

        first = client.jobs.list(limit=2)
        assert len(first.data) == 2 and first.has_next_page()
        assert [len(page.data) for page in first.iter_pages()] == [2, 2, 1]
        listed = [job.id for job in first]
        assert listed == [job.id for job in reversed(created)], "newest first, each job once"
        assert all(isinstance(job, trainwell.JobHandle) for job in first)
        assert [j.id for j in itertools.islice(client.jobs.list(limit=2), 3)] == listed[:3]

        statuses = {job.status for job in client.jobs.list()}
        some = statuses.pop()
        assert {job.status for job in client.jobs.list(status=some, limit=1)} == {some}


def test_async_client_pages_and_errors(stack: Stack, fresh_key: str) -> None:
    async def scenario() -> None:
        async with trainwell.AsyncClient(base_url=stack.base_url, api_key=fresh_key) as client:
            jobs = [await client.jobs.create({**TINY_IRIS, "name": f"async-{i}", "epochs": 1}) for i in range(3)]
            for job in jobs:
                with contextlib.suppress(trainwell.ConflictError):
                    await job.cancel()
            first = await client.jobs.list(limit=2)
            assert len(first.data) == 2 and first.has_next_page()
            assert [job.id async for job in client.jobs.list(limit=2)] == [j.id for j in reversed(jobs)]
            again = await jobs[0].refresh()
            assert isinstance(again, trainwell.AsyncJobHandle) and again.id == jobs[0].id
            with pytest.raises(trainwell.NotFoundError):
                await client.jobs.retrieve("no-such-job")

    asyncio.run(scenario())


def test_diagnosis_and_remedy_through_the_client(client: trainwell.Client) -> None:
    linear = client.jobs.create(
        {
            "dataset": {"name": "circles", "n_samples": 400},
            "model": {"hidden": []},
            "optimizer": {"lr": 0.05},
            "epochs": 10,
            "diagnosis": {"probes": False},  # the rules' verdict at once (probes: tests/service/test_probes.py)
        }
    ).wait(progress=False, timeout=120, poll_interval=0.2)
    diagnosis = client.jobs.diagnosis(linear)
    for _ in range(100):
        if diagnosis.status == "ready":
            break
        time.sleep(0.2)
        diagnosis = client.jobs.diagnosis(linear)
    assert isinstance(diagnosis, trainwell.Diagnosis) and diagnosis.verdict == "model_bias"
    figure = client.jobs.plot(linear)
    assert figure.get_suptitle().endswith("verdict: model_bias"), "the plot names the verdict"
    finding = next(f for f in diagnosis.findings if f.remedies)
    child = client.jobs.run_remedy(linear, finding.code)
    assert isinstance(child, trainwell.JobHandle) and child.parent_id == linear.id and child.origin == "remedy"
    with pytest.raises(trainwell.NotFoundError):
        client.jobs.run_remedy(linear, "no_such_finding")
    child.wait(progress=False, timeout=120, poll_interval=0.2)

    requested = client.jobs.compute_landscape(linear)
    assert isinstance(requested, trainwell.Landscape) and requested.status in {"queued", "running", "ready"}
    for _ in range(300):
        landscape = client.jobs.landscape(linear)
        if landscape.status in {"ready", "failed"}:
            break
        time.sleep(0.2)
    assert landscape.status == "ready" and landscape.line is not None and landscape.surface is not None
    assert landscape.plot_url == f"/v1/jobs/{linear.id}/landscape.png"
    assert client.jobs.landscape_plot(linear).startswith(b"\x89PNG")
    assert client.jobs.wait_landscape(linear, timeout=5).line == landscape.line  # ready: returned as it is
