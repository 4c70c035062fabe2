"""Deleting a job and its datasets leaves the data directory and the database as they were before the upload:
a table with string labels is uploaded, trained on, its model downloaded, its predictions on a second
upload read back as CSV in the table's labels, then the job and both datasets are deleted, and the listing of the data directory and the row count of every table are compared with theirs
before. On a stack of its own (so no other test's jobs write meanwhile), embedded and on PostgreSQL + Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, table

from store.db import make_engine
from tests.service.test_model_download import download
from tests.service.test_predictions import read_csv, wait_for_predictions
from tests.stack import (
    Stack,
    finished,
    poll,
    postgres_database,
    redis_database,
    start_stack,
    stop_stack,
    wait_for,
    wait_for_diagnosis,
)

# the service's own roots, made on first use and kept: what must be left as before is what is in them
LAYOUT = {"datasets", "checkpoints"}
# the database's files change with every write (pages, journals); their rows are compared instead
DATABASE_FILE = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal")
CSV = "width,height,depth,kind\n" + "".join(
    f"{i * 0.37 % 5:.3f},{i * 1.91 % 7:.3f},{i % 4},{('round', 'square', 'oval')[i % 3]}\n" for i in range(120)
)


@pytest.fixture(params=["embedded", "production"])
def own_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    if request.param == "embedded":
        running = start_stack(tmp_path)
        try:
            yield running
        finally:
            stop_stack(running)
        return
    with postgres_database() as database_url, redis_database() as broker_url:
        running = start_stack(tmp_path, database_url=database_url, broker_url=broker_url)
        try:
            yield running
        finally:
            stop_stack(running)


def data_dir_listing(root: Path) -> set[str]:
    """Every file and folder under the data directory but the database's files and the layout's roots."""
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if not path.name.endswith(DATABASE_FILE) and str(path.relative_to(root)) not in LAYOUT
    }


def row_counts(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            names = inspect(connection).get_table_names()
            return {name: connection.scalar(select(func.count()).select_from(table(name))) or 0 for name in names}
    finally:
        engine.dispose()


def test_deleting_the_job_and_the_dataset_leaves_nothing(own_stack: Stack) -> None:
    key = own_stack.new_key("leaves-nothing")
    with own_stack.client(key) as client:
        # the worker has announced itself: its row is part of the state before, not a change
        poll(lambda: client.get("/v1/workers").json(), lambda w: bool(w["data"]), "no worker", timeout=60, every=0.2)
        files_before, rows_before = data_dir_listing(own_stack.data_dir), row_counts(own_stack.database_url)

        uploaded = client.post(
            "/v1/datasets", files={"file": ("shapes.csv", CSV.encode(), "text/csv")}, data={"target": "kind"}
        )
        assert uploaded.status_code == 201, uploaded.text
        dataset = uploaded.json()
        assert dataset["classes"] == ["oval", "round", "square"]
        spec = {
            "dataset": {"name": dataset["id"]},
            "model": {"hidden": [8]},
            "epochs": 3,
            "diagnosis": {"probes": False},
        }
        job = client.post("/v1/jobs", json=spec).json()
        assert wait_for(client, job["id"], finished, timeout=300)["status"] == "succeeded"
        wait_for_diagnosis(client, job["id"], ("ready", "not_applicable"), timeout=300)
        model = download(client, job["id"], "onnx")
        assert model.status_code == 200, model.text
        second = client.post(
            "/v1/datasets",
            files={"file": ("more.csv", CSV[: CSV.index("\n", 400)].encode(), "text/csv")},
            data={"target": "kind"},
        )
        assert second.status_code == 201, second.text
        made = wait_for_predictions(
            client, client.post(f"/v1/jobs/{job['id']}/predictions", json={"dataset": second.json()["id"]}).json()
        )
        labels = {row["predicted"] for row in read_csv(client, made)}
        assert labels and labels <= {"oval", "round", "square"}, labels
        assert client.get("/v1/usage").json()["bytes"]["by_kind"]["predictions"] > 0
        written = data_dir_listing(own_stack.data_dir) - files_before
        assert {f"datasets/{dataset['id']}.npz", f"checkpoints/{job['id']}/model.onnx"} <= written, written
        assert f"checkpoints/{job['id']}/predictions/{made['id']}.csv" in written, written
        grown = row_counts(own_stack.database_url)
        assert all(grown[name] >= rows_before[name] for name in rows_before) and grown != rows_before

        assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
        assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 204
        assert client.delete(f"/v1/datasets/{second.json()['id']}").status_code == 204
        assert client.get("/v1/usage").json()["bytes"]["total"] == 0

    assert data_dir_listing(own_stack.data_dir) == files_before
    assert row_counts(own_stack.database_url) == rows_before
