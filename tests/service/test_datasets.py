"""Dataset uploads over real HTTP: an upload trains on the real worker, stays private to its
principal, and every hostile file is a 4xx naming the problem with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np

from tests.datasets.files import (
    blobs_csv,
    csv_bytes,
    linear_regression_csv,
    million_columns_csv,
    npz_bomb,
    npz_with_pickle,
    parquet_bytes,
    ten_megabyte_line_csv,
    truncated,
)
from tests.stack import Stack, finished, wait_for


def upload(client: httpx.Client, filename: str, data: bytes, content_type: str = "", **fields: str) -> httpx.Response:
    return client.post("/v1/datasets", files={"file": (filename, data, content_type)}, data=fields)


def job_on(dataset_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "dataset": {"name": dataset_id},
        "model": {"hidden": [16]},
        "optimizer": {"name": "adam", "lr": 0.03},
        "epochs": 6,
        **overrides,
    }


def stored(stack: Stack) -> list[str]:
    """What lies under the data dir, but for the databases, checkpoints and logs others write."""
    skip = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal")
    return sorted(
        str(p.relative_to(stack.data_dir))
        for p in stack.data_dir.rglob("*")
        if not p.name.endswith(skip) and "checkpoints" not in p.parts
    )


def test_an_uploaded_csv_trains_on_the_worker_and_is_listed(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        created = upload(client, "blobs.csv", blobs_csv(), "text/csv", target="label", name="three blobs")
        assert created.status_code == 201, created.text
        dataset = created.json()
        assert dataset["id"].startswith("ds_") and dataset["kind"] == "uploaded" and dataset["name"] == "three blobs"
        assert (
            dataset["task"] == "classification" and dataset["n_classes"] == 3 and dataset["classes"] == ["0", "1", "2"]
        )
        assert dataset["rows"] == 300 and dataset["columns"] == ["a", "b"] and dataset["target"] == "label"
        assert dataset["format"] == "csv" and dataset["bytes"] > 300 * 3 * 4 and dataset["created_at"]
        assert (stack.data_dir / "datasets" / f"{dataset['id']}.npz").is_file()

        again = upload(client, "copy.csv", blobs_csv(), target="label")
        assert again.status_code == 200 and again.json()["id"] == dataset["id"]  # content-addressed

        listed = client.get("/v1/datasets").json()["data"]
        by_id = {d["id"]: d for d in listed}
        assert by_id["digits"]["kind"] == "builtin" and by_id["digits"]["rows"] == 1797
        assert by_id["diabetes"]["task"] == "regression" and by_id["moons"]["kind"] == "synthetic"
        assert by_id[dataset["id"]] == dataset
        assert client.get(f"/v1/datasets/{dataset['id']}").json() == dataset

        job = client.post("/v1/jobs", json=job_on(dataset["id"]))
        assert job.status_code == 201, job.text
        done = wait_for(client, job.json()["id"], finished)
        assert done["status"] == "succeeded", (done, stack.log())
        assert done["summary"]["best_metrics"]["val_accuracy"] > 0.9  # separable blobs; chance is 1/3

        cnn = client.post("/v1/jobs", json=job_on(dataset["id"], model={"kind": "cnn"}))
        assert cnn.status_code == 422 and "model.kind" in cnn.json()["error"]["message"]


def test_a_regression_upload_trains_with_mae_and_r2(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        created = upload(client, "prices.parquet", _as_parquet(linear_regression_csv()), target="price")
        assert created.status_code == 201, created.text
        dataset = created.json()
        assert dataset["task"] == "regression" and dataset["n_classes"] is None and dataset["format"] == "parquet"

        wrong = client.post("/v1/jobs", json=job_on(dataset["id"], loss="cross_entropy"))
        assert wrong.status_code == 422
        message = wrong.json()["error"]["message"]
        assert "loss" in message and "regression" in message and "mse, mae, huber" in message

        job = client.post("/v1/jobs", json=job_on(dataset["id"], loss="mae", model={"hidden": []}, epochs=15))
        assert job.status_code == 201, job.text
        done = wait_for(client, job.json()["id"], finished)
        assert done["status"] == "succeeded", (done, stack.log())
        best = done["summary"]["best_metrics"]
        assert best["val_r2"] > 0.8 and "val_mae" in best and "val_accuracy" not in best


def _as_parquet(csv: bytes) -> bytes:
    header, *lines = csv.decode().split()
    rows = np.array([[float(v) for v in line.split(",")] for line in lines])
    return parquet_bytes({name: rows[:, j] for j, name in enumerate(header.split(","))})


def test_a_dataset_is_private_to_its_principal(stack: Stack) -> None:
    data = csv_bytes(["x", "y"], [[i, i % 2] for i in range(40)])
    with stack.client(stack.keys["alice"]) as alice, stack.client(stack.keys["bob"]) as bob:
        mine = upload(alice, "private.csv", data, target="y").json()["id"]
        assert bob.get(f"/v1/datasets/{mine}").status_code == 404
        assert mine not in {d["id"] for d in bob.get("/v1/datasets").json()["data"]}
        refused = bob.post("/v1/jobs", json=job_on(mine))
        assert refused.status_code == 422
        assert "dataset.name" in refused.json()["error"]["message"] and mine in refused.json()["error"]["message"]
        unknown = alice.post("/v1/jobs", json=job_on("ds_0123456789abcdef"))
        assert unknown.status_code == 422 and "not found" in unknown.json()["error"]["message"]

        # the same content uploaded by bob is his own dataset (one file, two rows)
        theirs = upload(bob, "same.csv", data, target="y")
        assert theirs.status_code == 201 and theirs.json()["id"] == mine
        assert len(list((stack.data_dir / "datasets").glob(f"{mine}*"))) == 1


HOSTILE: list[tuple[str, str, bytes, str, dict[str, str], int, list[str]]] = [
    # name, file name, content, content type, form fields, status, words in the message
    ("image", "photo.png", b"\x89PNG\r\n", "image/png", {"target": "y"}, 415, ["image/png"]),
    ("extension", "data.xlsx", b"PK\x03\x04", "", {"target": "y"}, 415, ["data.xlsx"]),
    ("empty", "empty.csv", b"", "text/csv", {"target": "y"}, 422, ["empty"]),
    (
        "truncated parquet",
        "t.parquet",
        truncated(parquet_bytes({"a": [1.0, 2.0], "y": [0, 1]})),
        "",
        {"target": "y"},
        422,
        ["Parquet"],
    ),
    ("million columns", "wide.csv", million_columns_csv(), "text/csv", {"target": "y"}, 413, ["columns"]),
    ("10 MB line", "line.csv", ten_megabyte_line_csv(), "text/csv", {"target": "y"}, 422, ["line 2", "longer than"]),
    ("invalid utf-8", "latin.csv", b"a,y\n1,0\n\xe9t\xe9,1\n", "text/csv", {"target": "y"}, 422, ["line 3", "UTF-8"]),
    ("nan", "nan.csv", b"a,b,y\n1,2,0\n3,NaN,1\n", "text/csv", {"target": "y"}, 422, ["column 'b' is NaN at row 2"]),
    (
        "inf",
        "inf.csv",
        b"a,b,y\n1,inf,0\n3,4,1\n",
        "text/csv",
        {"target": "y"},
        422,
        ["column 'b' is infinite at row 1"],
    ),
    (
        "text column",
        "t.csv",
        b"a,color,y\n1,red,0\n",
        "text/csv",
        {"target": "y"},
        422,
        ["column 'color' is not numeric"],
    ),
    ("no target", "t.csv", b"a,b\n1,2\n", "text/csv", {"target": "label"}, 422, ["'label' not found", "'a', 'b'"]),
    ("target unnamed", "t.csv", b"a,y\n1,0\n", "text/csv", {}, 422, ["target"]),
    ("bad task", "t.csv", b"a,y\n1,0\n", "text/csv", {"target": "y", "task": "ranking"}, 422, ["task", "ranking"]),
    ("pickle", "p.npz", npz_with_pickle(), "", {}, 422, ["pickle"]),
    ("npz bomb", "bomb.npz", npz_bomb(), "", {}, 413, ["'X' declares shape (1000000, 1000)"]),
]


def test_hostile_uploads_are_4xx_naming_the_problem_and_write_nothing(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        before = stored(stack)
        for case, filename, data, content_type, fields, status, words in HOSTILE:
            response = upload(client, filename, data, content_type, **fields)
            assert response.status_code == status, (case, response.text)
            message = response.json()["error"]["message"]
            assert all(word in message for word in words), (case, message)

        not_multipart = client.post("/v1/datasets", json={"file": "a,y\n1,0\n"})
        assert not_multipart.status_code == 415 and "multipart/form-data" in not_multipart.json()["error"]["message"]
        extra = client.post("/v1/datasets", files={"file": ("a.csv", b"a,y\n1,0\n")}, data={"y": "1", "path": "/x"})
        assert extra.status_code == 422 and "unknown form field" in extra.json()["error"]["message"]
        no_file = client.post("/v1/datasets", files={"target": (None, "y")})
        assert no_file.status_code == 422 and "file" in no_file.json()["error"]["message"]
        assert stored(stack) == before, "a refused upload must write nothing under the data dir"

        # a path-traversal file name is a label, never a path
        traversal = upload(client, "../../evil.csv", csv_bytes(["a", "y"], [[i, i % 2] for i in range(10)]), target="y")
        assert traversal.status_code == 201 and traversal.json()["name"] == "evil.csv"
        for directory in (stack.data_dir, stack.data_dir.parent, stack.data_dir.parent.parent):
            assert not (directory / "evil.csv").exists()
        added = set(stored(stack)) - set(before)
        assert added <= {"datasets", f"datasets/{traversal.json()['id']}.npz"}, added


def test_request_bodies_are_capped(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        big = {"dataset": {"name": "iris"}, "name": "x" * (2 * 1024 * 1024)}
        declared = client.post("/v1/jobs", json=big)
        assert declared.status_code == 413 and declared.json()["error"]["code"] == "payload_too_large"

        def chunked() -> Iterator[bytes]:  # no Content-Length: the server must count
            yield b'{"dataset": {"name": "iris"}, "name": "'
            for _ in range(40):
                yield b"x" * 65536
            yield b'"}'

        streamed = client.post("/v1/jobs", content=chunked(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413 and "1048576" in streamed.json()["error"]["message"]


def test_an_upload_too_small_for_its_splits_is_refused(stack: Stack) -> None:
    """Four rows of two classes cannot give every split a row of each: a 422 naming the field at
    submission, not a job that fails in scikit-learn after it was queued."""
    tiny = b"a,b,label\n0.1,0.2,x\n0.3,0.1,y\n0.5,0.9,x\n0.7,0.4,y\n"
    with stack.client(stack.keys["alice"]) as client:
        dataset = upload(client, "tiny.csv", tiny, "text/csv", target="label").json()
        before = client.get("/v1/jobs", params={"limit": 200}).json()["data"]
        refused = client.post("/v1/jobs", json=job_on(dataset["id"]))
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["details"][0]["field"] == "dataset.test_fraction", error
        assert "4 rows" in error["message"] and "2 classes" in error["message"]
        assert client.get("/v1/jobs", params={"limit": 200}).json()["data"] == before, "nothing is stored"
