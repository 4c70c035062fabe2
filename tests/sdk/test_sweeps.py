"""`client.sweeps` and `trainwell sweeps` against the real stack: create → wait → table, trials, plot;
typed errors, pagination, cancel, the async twin, and the CLI through typer's CliRunner."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

import trainwell
from tests.stack import Stack
from trainwell import Sweep, SweepStatus
from trainwell.cli import app

# iris trains an epoch in milliseconds: a trial costs the worker's start-up, not training. A sweep's
# trials run without probe jobs unless the base asks for them, so none is set here.
TINY_BASE: dict[str, Any] = {
    "dataset": {"name": "iris"},
    "model": {"hidden": [8]},
    "optimizer": {"lr": 0.05},
    "batch_size": 32,
    "epochs": 2,
}
OPTIMIZERS = {"optimizer.name": ["sgd", "adam"]}
# one trial per sweep: the cheapest sweep there is, for tests about listing and cancelling
ONE_TRIAL: dict[str, Any] = {"grid": {"optimizer.name": ["adam"]}, "seeds": [0], "max_parallel": 1}
WAIT_SECONDS = 300


def test_create_wait_table_trials_and_plot(client: trainwell.Client, tmp_path: Path) -> None:
    key = f"sweep-{secrets.token_hex(6)}"
    sweep = client.sweeps.create(TINY_BASE, OPTIMIZERS, seeds=[0, 1], name="sdk-sweep", idempotency_key=key)
    assert isinstance(sweep, Sweep) and sweep.status == SweepStatus.running and sweep.name == "sdk-sweep"
    assert sweep.trials == 4 and sweep.grid == OPTIMIZERS and sweep.seeds == [0, 1] and sweep.base.epochs == 2
    again = client.sweeps.create(TINY_BASE, OPTIMIZERS, seeds=[0, 1], name="sdk-sweep", idempotency_key=key)
    assert again.id == sweep.id, "a replayed Idempotency-Key answers the sweep it made"

    done = client.sweeps.wait(sweep, timeout=WAIT_SECONDS, poll_interval=0.2, progress=True)
    assert done.status == SweepStatus.succeeded and done.finished_at is not None
    assert done.counts.succeeded == 4 and done.counts.failed == 0, done.counts

    table = client.sweeps.table(done)
    assert isinstance(table, trainwell.SweepTable) and [row.values for row in table] == [
        {"optimizer.name": "sgd"},
        {"optimizer.name": "adam"},
    ]
    for row in table:
        loss = row.metrics["best_val_loss"]
        assert row.succeeded == 2 and len(row.job_ids) == 2 and loss.n == 2, row
        assert loss.mean is not None and loss.std is not None and row.metrics["best_val_accuracy"].n == 2
        assert sum(row.verdicts.values()) == 2, f"every succeeded trial's verdict is counted: {row.verdicts}"
    assert done.best is not None and done.best.metric == "best_val_loss"
    assert {done.best.best_cell, done.best.runner_up} == {0, 1}

    trials = client.sweeps.trials(done)
    assert len(trials) == 4 and all(isinstance(job, trainwell.JobHandle) for job in trials)
    assert {(job.origin, job.sweep_id, job.status) for job in trials} == {("sweep", done.id, "succeeded")}
    assert sorted((job.spec.optimizer.name, job.spec.seed) for job in trials) == [
        ("adam", 0),
        ("adam", 1),
        ("sgd", 0),
        ("sgd", 1),
    ]
    assert not any(job.spec.diagnosis.probes for job in trials), "a sweep's trials probe only when asked to"
    assert {job.id for job in trials} == {job_id for row in table for job_id in row.job_ids}
    first = client.jobs.list(sweep_id=done.id, limit=3)
    assert [len(page.data) for page in first.iter_pages()] == [3, 1]

    frame = table.to_pandas()
    assert list(frame["optimizer.name"]) == ["sgd", "adam"] and list(frame["best_val_loss_n"]) == [2, 2]

    png = tmp_path / "sweep.png"
    figure = client.sweeps.plot(done, path=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (axes,) = figure.axes
    labels = [str(line.get_label()) for line in axes.get_lines()]
    assert labels == ["cell 0: optimizer.name=sgd (n=2)", "cell 1: optimizer.name=adam (n=2)"]
    assert len(axes.collections) == 2, "a ±std band per cell"
    assert [list(line.get_xdata()) for line in axes.get_lines()] == [[1, 2], [1, 2]]

    with pytest.raises(trainwell.ConflictError) as finished:
        client.sweeps.cancel(done)
    assert finished.value.code == "sweep_finished"


def test_a_bad_grid_is_refused_naming_it(client: trainwell.Client) -> None:
    with pytest.raises(trainwell.UnprocessableEntityError) as unknown:
        client.sweeps.create(TINY_BASE, {"optimizer.nme": ["sgd"]})
    assert unknown.value.status_code == 422 and "optimizer.nme" in _said(unknown.value)

    with pytest.raises(trainwell.UnprocessableEntityError) as refused:
        client.sweeps.create(TINY_BASE, {"optimizer.name": ["adam", "adamax"]})
    assert "optimizer.name" in _said(refused.value) and "cell 1" in _said(refused.value)

    with pytest.raises(trainwell.UnprocessableEntityError):
        client.sweeps.create(TINY_BASE, OPTIMIZERS, seeds=[0, 0])

    with pytest.raises(trainwell.NotFoundError):
        client.sweeps.retrieve("no-such-sweep")


def _said(error: trainwell.APIStatusError) -> str:
    return f"{error.message} {json.dumps(error.details)}"


def test_list_pages_cancel_and_ownership(stack: Stack, fresh_key: str) -> None:
    with trainwell.Client(base_url=stack.base_url, api_key=fresh_key) as client:
        created = [client.sweeps.create(TINY_BASE, name=f"page-{i}", **ONE_TRIAL) for i in range(3)]
        ended = []
        for sweep in created:  # keep the worker free for the other tests
            try:
                ended.append(client.sweeps.cancel(sweep))
            except trainwell.ConflictError:  # its one trial may have finished already
                ended.append(client.sweeps.retrieve(sweep))
        for sweep in ended:
            assert sweep.status.is_final and sweep.counts.waiting == 0 and sweep.counts.queued == 0, sweep

        first = client.sweeps.list(limit=2)
        assert len(first.data) == 2 and first.has_next_page()
        assert [len(page.data) for page in first.iter_pages()] == [2, 1]
        assert [sweep.id for sweep in first] == [sweep.id for sweep in reversed(created)], "newest first, each once"
        assert all(not sweep.table and sweep.best is None for sweep in first), "a listing has no tables"
        assert [sweep.id for sweep in client.sweeps.list(limit=2, cursor=first.next_cursor)] == [created[0].id]

        with trainwell.Client(base_url=stack.base_url, api_key=stack.keys["bob"]) as bob:
            with pytest.raises(trainwell.NotFoundError):
                bob.sweeps.retrieve(created[0].id)
            with pytest.raises(trainwell.NotFoundError):
                bob.sweeps.cancel(created[0].id)


def test_async_sweeps(stack: Stack, fresh_key: str) -> None:
    async def scenario() -> None:
        async with trainwell.AsyncClient(base_url=stack.base_url, api_key=fresh_key) as client:
            sweeps = [await client.sweeps.create(TINY_BASE, name=f"async-{i}", **ONE_TRIAL) for i in range(2)]
            for sweep in sweeps:
                with contextlib.suppress(trainwell.ConflictError):
                    await client.sweeps.cancel(sweep)
            first = await client.sweeps.list(limit=1)
            assert len(first.data) == 1 and first.has_next_page()
            assert [sweep.id async for sweep in client.sweeps.list(limit=1)] == [s.id for s in reversed(sweeps)]
            done = await client.sweeps.wait(sweeps[0], timeout=WAIT_SECONDS, poll_interval=0.2)
            assert done.status.is_final and done.id == sweeps[0].id
            assert len(await client.sweeps.table(done)) == 1
            assert len(await client.sweeps.trials(done)) <= 1
            with pytest.raises(trainwell.NotFoundError):
                await client.sweeps.retrieve("no-such-sweep")
            mattered = await client.sweeps.importance(done)
            assert isinstance(mattered, trainwell.SweepImportance) and mattered.sweep_id == done.id
            assert mattered.parameters == [] and mattered.reason, "one cell: nothing to weigh"
            with pytest.raises(trainwell.NotFoundError):
                await client.sweeps.importance("no-such-sweep")

    asyncio.run(scenario())


def _cli(stack: Stack, *args: str) -> Result:
    auth = ["--url", stack.base_url, "--api-key", stack.keys["alice"]]
    return CliRunner().invoke(app, [*auth, *args], env={"COLUMNS": "200"})


def _json(run: Result) -> Any:
    assert run.exit_code == 0, (run.exit_code, run.output, run.exception)
    return json.loads(run.stdout)


def test_cli_sweeps_create_wait_show_list_cancel(stack: Stack, tmp_path: Path) -> None:
    spec = tmp_path / "base.yaml"
    spec.write_text(yaml.safe_dump(TINY_BASE))
    grid = ["--grid", "model.hidden=[4],[8,8]", "--grid", "optimizer.name=adam"]
    created = _cli(stack, "sweeps", "create", str(spec), *grid, "--seeds", "0,1", "--max-parallel", "4")
    assert created.exit_code == 0 and "created sweep" in created.stdout and "4 trials" in created.stdout
    with contextlib.suppress(trainwell.ConflictError):  # only the --wait sweep below is needed
        _cancel_quietly(stack, created.stdout.split()[2])

    waited = _cli(
        stack, "sweeps", "create", str(spec), *grid, "--seeds", "0,1", "--name", "cli-sweep", "--wait", "--json"
    )
    done = _json(waited)
    assert done["status"] == "succeeded" and done["name"] == "cli-sweep" and done["trials"] == 4
    assert done["grid"] == {"model.hidden": [[4], [8, 8]], "optimizer.name": ["adam"]}
    assert [row["values"]["model.hidden"] for row in done["table"]] == [[4], [8, 8]]
    assert all(row["metrics"]["best_val_loss"]["n"] == 2 for row in done["table"])

    shown = _cli(stack, "sweeps", "show", done["id"])
    assert shown.exit_code == 0, shown.output
    assert "best val loss" in shown.stdout and "best val accuracy" in shown.stdout and "λmax" in shown.stdout
    assert "model.hidden" in shown.stdout and "[8,8]" in shown.stdout and " ± " in shown.stdout
    assert "best: cell" in shown.stdout and "on best_val_loss" in shown.stdout and "over 2 seeds" in shown.stdout
    spent = done["accounting"]
    assert f"epochs trained: {spent['epochs_trained']} of {spent['epochs_full']}" in shown.stdout
    assert _json(_cli(stack, "sweeps", "show", done["id"], "--json"))["table"] == done["table"]

    listed = _json(_cli(stack, "sweeps", "ls", "--json", "--limit", "200"))
    assert done["id"] in [sweep["id"] for sweep in listed]
    assert done["id"] in _cli(stack, "sweeps", "list").stdout

    finished = _cli(stack, "sweeps", "cancel", done["id"])
    assert isinstance(finished.exception, trainwell.ConflictError), finished.output


def _cancel_quietly(stack: Stack, sweep_id: str) -> None:
    with trainwell.Client(base_url=stack.base_url, api_key=stack.keys["alice"]) as client:
        client.sweeps.cancel(sweep_id)


def test_cli_sweeps_create_from_a_search_file_with_asha(stack: Stack, tmp_path: Path) -> None:
    document = {
        "name": "cli-search",
        "base": {**TINY_BASE, "epochs": 3},
        "search": {"space": {"optimizer.lr": {"loguniform": [1e-4, 0.1]}}, "sampler": "random", "trials": 2},
        "seeds": [0],
        "early_stop": {"asha": {"min_epochs": 1, "reduction_factor": 2}},
    }
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(document))
    done = _json(_cli(stack, "sweeps", "create", str(path), "--wait", "--json", "--max-parallel", "1"))
    assert done["status"] == "succeeded" and done["name"] == "cli-search" and done["trials"] == 2
    assert done["search"]["space"] == document["search"]["space"] and done["grid"] == {}
    assert done["early_stop"]["asha"] == {"metric": "val_loss", "min_epochs": 1, "reduction_factor": 2}
    assert done["max_parallel"] == 1, "an option overrides the file"
