"""Predictions of a job trained on an uploaded CSV with string labels: on a second upload (its columns in
another order) and on inline rows, filled by the worker and read back as CSV and Parquet, in the upload's
own labels and agreeing with the downloaded model; the job's test rows predicted inline reproduce the test
accuracy the job reported. Every refused request answers the 4xx that names its problem and stores nothing;
another principal's job is not found; an Idempotency-Key makes one prediction of retries, concurrent ones
too, and the SDK's retry of a lost answer; deleting the job removes its predictions' rows and files."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from sklearn.datasets import load_iris
from sqlalchemy import create_engine, text

import trainwell
from tests.sdk.proxy import ResettingProxy
from tests.sdk.test_cli import trainwell as trainwell_cli
from tests.sdk.test_retries import _header as header_of
from tests.service.test_model_download import FEATURES, LABELS, iris_csv
from tests.specs import LINEAR_ON_CIRCLES
from tests.stack import Stack, finished, wait_for
from trainer.datasets import load_dataset
from trainer.splits import fold_data
from trainwell.spec import JobSpec

SPEC: dict[str, Any] = {
    "name": "iris-predictions",
    "model": {"hidden": [16], "norm": "batch"},
    "optimizer": {"name": "adam", "lr": 0.03},
    "epochs": 25,
    "early_stopping": {"patience": 5},
    "diagnosis": {"probes": False},
}


def table_csv(columns: list[str]) -> bytes:
    """Iris with these columns (features by name, `species`, or `sepal area`, a column the model lacks)."""
    X, y = load_iris(return_X_y=True)
    values = {name: X[:, k] for k, name in enumerate(FEATURES)} | {"sepal area": X[:, 0] * X[:, 1]}
    lines = [",".join(columns)]
    for i in range(len(X)):
        lines.append(",".join(LABELS[y[i]] if name == "species" else f"{values[name][i]:g}" for name in columns))
    return ("\n".join(lines) + "\n").encode()


def upload(client: httpx.Client, content: bytes, name: str) -> dict[str, Any]:
    response = client.post("/v1/datasets", files={"file": (name, content, "text/csv")}, data={"target": "species"})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_predictions(client: httpx.Client, made: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while made["status"] == "pending":
        assert time.monotonic() < deadline, f"predictions not made within {timeout} s: {made}"
        time.sleep(0.2)
        response = client.get(f"/v1/jobs/{made['job_id']}/predictions/{made['id']}")
        assert response.status_code == 200, response.text
        made = response.json()
    assert made["status"] == "succeeded", made
    return made


def read_csv(client: httpx.Client, made: dict[str, Any]) -> list[dict[str, str]]:
    response = client.get(made["csv_url"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def stored(stack: Stack, job_id: str) -> tuple[int, list[str]]:
    """The job's predictions rows and files: what a refused request must leave as it was."""
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(
                text("SELECT count(*) FROM predictions WHERE job_id = :job"), {"job": job_id}
            ).scalar_one()
    finally:
        engine.dispose()
    folder = stack.data_dir / "checkpoints" / job_id / "predictions"
    return int(count), sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def trained(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One job trained on the uploaded iris CSV, shared by the module's tests, with its downloaded model."""
    key = stack.new_key("predictor")
    with stack.client(key) as client:
        dataset = upload(client, iris_csv(), "iris.csv")
        spec = {**SPEC, "dataset": {"name": dataset["id"], "feature_norm": "standard"}}
        job = client.post("/v1/jobs", json=spec).json()
        job = wait_for(client, job["id"], finished, timeout=600)
        assert job["status"] == "succeeded", job
    with trainwell.Client(base_url=stack.base_url, api_key=key) as sdk:
        path = sdk.jobs.download_model(job["id"], tmp_path_factory.mktemp("model") / "model.safetensors")
    yield {"key": key, "job": job, "spec": spec, "model": trainwell.load_model(path)}


def test_predictions_on_an_uploaded_table_answer_in_its_labels(stack: Stack, trained: dict[str, Any]) -> None:
    job, model = trained["job"], trained["model"]
    reordered = ["petal width", "species", "sepal length", "petal length", "sepal width"]
    with stack.client(trained["key"]) as client:
        table = upload(client, table_csv(reordered), "reordered.csv")
        response = client.post(f"/v1/jobs/{job['id']}/predictions", json={"dataset": table["id"]})
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending" and response.json()["rows"] == 150
        made = wait_for_predictions(client, response.json())
        assert made["labels"] == LABELS and made["features"] == FEATURES and made["dataset"] == table["id"]
        rows = read_csv(client, made)
        parquet = client.get(made["parquet_url"])
        assert parquet.status_code == 200 and parquet.headers["content-type"] == "application/vnd.apache.parquet"
        from_parquet = pq.read_table(io.BytesIO(parquet.content)).to_pydict()

    X, _ = load_iris(return_X_y=True)
    with torch.no_grad():
        probabilities = torch.softmax(model(torch.tensor(X, dtype=torch.float32)), dim=1).numpy()
    expected = [LABELS[k] for k in probabilities.argmax(1)]
    assert [row["predicted"] for row in rows] == expected == [str(v) for v in from_parquet["predicted"]]
    assert list(rows[0]) == ["predicted", *(f"probability_{label}" for label in LABELS)]
    got = np.array([[float(row[f"probability_{label}"]) for label in LABELS] for row in rows])
    np.testing.assert_allclose(got, probabilities, atol=1e-6)
    np.testing.assert_allclose(np.array(from_parquet[f"probability_{LABELS[0]}"]), probabilities[:, 0], atol=1e-6)


def test_inline_rows_reproduce_the_jobs_test_accuracy(stack: Stack, trained: dict[str, Any], tmp_path: Path) -> None:
    job, key = trained["job"], trained["key"]
    parsed = JobSpec.model_validate(trained["spec"])
    dataset = load_dataset(parsed.dataset, stack.data_dir)
    data = next(iter(fold_data(dataset, parsed.dataset)))
    assert data.test_rows is not None
    raw = dataset.X[data.test_rows].astype(np.float64).tolist()
    truth = [LABELS[k] for k in data.y_test.tolist()]
    reported = job["summary"]["best_metrics"]["test_accuracy"]
    with stack.client(trained["key"]) as client:
        response = client.post(f"/v1/jobs/{job['id']}/predictions", json={"rows": raw})
        assert response.status_code in (200, 202), response.text  # 200: the worker answered while it waited
        assert (response.status_code == 200) == (response.json()["status"] == "succeeded"), response.text
        rows = read_csv(client, wait_for_predictions(client, response.json()))
    accuracy = np.mean([row["predicted"] == label for row, label in zip(rows, truth, strict=True)])
    assert accuracy == pytest.approx(reported, abs=1e-5)

    with trainwell.Client(base_url=stack.base_url, api_key=trained["key"]) as sdk:
        handle = sdk.jobs.retrieve(job["id"])
        inline = handle.predict(raw)
        assert inline.predicted == [row["predicted"] for row in rows]
        assert inline.probabilities is not None and len(inline.probabilities[0]) == len(LABELS)
        on_table = handle.predict(dataset=job["spec"]["dataset"]["name"])
        assert len(on_table.predicted) == 150 and set(on_table.predicted) <= set(LABELS)
        with pytest.raises(trainwell.UnprocessableEntityError):
            handle.predict([[1.0, 2.0]])

    async def predict_async() -> trainwell.PredictionTable:
        async with trainwell.AsyncClient(base_url=stack.base_url, api_key=trained["key"]) as client:
            return await (await client.jobs.retrieve(job["id"])).predict(raw)

    assert asyncio.run(predict_async()).predicted == inline.predicted, "the async client's twin"

    # the CLI: rows from a CSV file (its header skipped) to a CSV of predictions
    rows_file, out = tmp_path / "rows.csv", tmp_path / "predictions.csv"
    rows_file.write_text("\n".join([",".join(FEATURES), *(",".join(map(str, row)) for row in raw)]) + "\n")
    shown = trainwell_cli(stack, "jobs", "predict", job["id"], "--rows", str(rows_file), "--out", str(out), key=key)
    assert shown.returncode == 0, shown
    assert list(csv.DictReader(io.StringIO(out.read_text()))) == rows
    refused = trainwell_cli(stack, "jobs", "predict", job["id"], "--out", str(out), key=key)
    assert refused.returncode == 2 and "--dataset" in refused.stderr, refused


def test_refused_requests_name_their_problem_and_store_nothing(stack: Stack, trained: dict[str, Any]) -> None:
    job = trained["job"]
    url = f"/v1/jobs/{job['id']}/predictions"
    with stack.client(trained["key"]) as client, stack.client(stack.keys["bob"]) as bob:
        missing = upload(client, table_csv(["sepal length", "sepal width", "petal length", "species"]), "m.csv")
        extra = upload(client, table_csv([*FEATURES, "sepal area", "species"]), "e.csv")
        before = stored(stack, job["id"])

        refused = client.post(url, json={"dataset": missing["id"]})
        assert refused.status_code == 422 and "'petal width'" in refused.text, refused.text
        assert refused.json()["error"]["details"][0]["missing"] == ["petal width"]
        refused = client.post(url, json={"dataset": extra["id"]})
        assert refused.status_code == 422 and refused.json()["error"]["details"][0]["extra"] == ["sepal area"]
        refused = client.post(url, json={"dataset": "ds_0000000000000000"})
        assert refused.status_code == 422 and "not found" in refused.text, refused.text
        assert bob.post(url, json={"dataset": missing["id"]}).status_code == 404

        refused = client.post(url, json={"rows": [[5.1, 3.5, 1.4, 0.2], [5.1, 3.5, 1.4]]})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"][0]["index"] == 1 and "rows[1]" in refused.text
        refused = client.post(url, json={"rows": [[5.1, 3.5, 1.4, 0.2], [5.1, "wide", 1.4, 0.2]]})
        assert refused.status_code == 422 and "rows" in refused.text, refused.text
        refused = client.post(url, json={"rows": [[5.1, 3.5, 1.4, 1e39]]})
        assert refused.status_code == 422 and "petal width" in refused.text, refused.text
        assert client.post(url, json={"rows": [[1.0] * 4] * 1001}).status_code == 422
        # 1,000 rows at full precision pass the body cap (1.3 MB here) and are refused for their width alone
        wide = client.post(url, json={"rows": [[5.099999904632568] * 64] * 1000})
        assert wide.status_code == 422 and wide.json()["error"]["details"][0]["index"] == 0, wide.text
        assert client.post(url, json={"rows": []}).status_code == 422
        assert client.post(url, json={}).status_code == 422
        assert client.post(url, json={"rows": [[1.0] * 4], "dataset": missing["id"]}).status_code == 422
        assert client.post(url, content=b"rows", headers={"content-type": "text/plain"}).status_code == 415

        assert bob.post(url, json={"rows": [[5.1, 3.5, 1.4, 0.2]]}).status_code == 404
        assert client.get(f"{url}/pr_0000000000000000").status_code == 404
        assert client.get(f"{url}/pr_0000000000000000.csv").status_code == 404
        assert stored(stack, job["id"]) == before

        made = client.post(url, json={"rows": [[5.1, 3.5, 1.4, 0.2]]}).json()
        for suffix in ("", ".csv", ".parquet"):
            assert bob.get(f"{url}/{made['id']}{suffix}").status_code == 404

        # a job without a trained model: still running (job_not_finished), then cancelled (no_weights)
        spec = {**trained["spec"], "name": "never-finishes", "epochs": 5000}
        long = client.post("/v1/jobs", json=spec).json()
        busy = client.post(f"/v1/jobs/{long['id']}/predictions", json={"rows": [[5.1, 3.5, 1.4, 0.2]]})
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "job_not_finished", busy.text
        client.post(f"/v1/jobs/{long['id']}/cancel")
        assert wait_for(client, long["id"], finished, timeout=600)["status"] == "cancelled"
        none = client.post(f"/v1/jobs/{long['id']}/predictions", json={"rows": [[5.1, 3.5, 1.4, 0.2]]})
        assert none.status_code == 409 and none.json()["error"]["code"] == "no_weights", none.text
        assert stored(stack, long["id"]) == (0, [])


def test_an_idempotency_key_answers_the_predictions_it_made(stack: Stack, trained: dict[str, Any]) -> None:
    job = trained["job"]
    url = f"/v1/jobs/{job['id']}/predictions"
    headers = {"Idempotency-Key": f"predict-{time.time_ns()}"}
    with stack.client(trained["key"]) as client:
        count, _ = stored(stack, job["id"])
        first = client.post(url, json={"rows": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}, headers=headers)
        assert first.status_code in (200, 202) and "Idempotent-Replayed" not in first.headers, first.text
        made = wait_for_predictions(client, first.json())

        # the same rows (3 is 3.0 once read): the first request's predictions, as they stand now
        again = client.post(url, json={"rows": [[5.1, 3.5, 1.4, 0.2], [6.7, 3, 5.2, 2.3]]}, headers=headers)
        assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true", again.text
        assert again.json() == made
        after = stored(stack, job["id"])
        assert after[0] == count + 1

        for body in ({"rows": [[5.1, 3.5, 1.4, 0.2]]}, {"dataset": job["spec"]["dataset"]["name"]}):
            refused = client.post(url, json=body, headers=headers)
            assert refused.status_code == 409 and refused.json()["error"]["code"] == "idempotency_conflict", body
        # the key is bound to its job too: another job of the principal's (one with no model yet) refuses it
        other = client.post("/v1/jobs", json={**trained["spec"], "name": "key-elsewhere", "epochs": 5000}).json()
        elsewhere = client.post(f"/v1/jobs/{other['id']}/predictions", json={"rows": [[1.0] * 4]}, headers=headers)
        assert elsewhere.status_code == 409 and elsewhere.json()["error"]["code"] == "idempotency_conflict"
        client.post(f"/v1/jobs/{other['id']}/cancel")
        assert stored(stack, job["id"]) == after and stored(stack, other["id"]) == (0, [])
        wait_for(client, other["id"], finished, timeout=600)


def test_concurrent_requests_with_one_key_make_one_prediction(stack: Stack, trained: dict[str, Any]) -> None:
    job = trained["job"]
    headers = {"Idempotency-Key": f"race-{time.time_ns()}"}
    body = {"rows": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]}
    count, files = stored(stack, job["id"])
    start = threading.Barrier(8)

    def request(_: int) -> tuple[int, str, str | None]:
        with stack.client(trained["key"]) as client:
            start.wait()  # all eight at once: the losers of the insert race must answer the winner's row
            response = client.post(f"/v1/jobs/{job['id']}/predictions", json=body, headers=headers)
            return (
                response.status_code,
                response.json().get("id", response.text),
                response.headers.get("Idempotent-Replayed"),
            )

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(request, range(8)))
    assert {status for status, _, _ in results} <= {200, 202}, results
    assert len({made for _, made, _ in results}) == 1, results
    assert sorted(str(replayed) for _, _, replayed in results) == ["None"] + ["true"] * 7, results
    made_id = results[0][1]
    now, now_files = stored(stack, job["id"])
    assert now == count + 1
    # the winner's rows file (or, once its worker is done, its results); no loser left its rows file behind
    assert all(name.startswith(f"{made_id}.") for name in set(now_files) - set(files)), now_files

    with stack.client(trained["key"]) as client:
        made = wait_for_predictions(client, client.get(f"/v1/jobs/{job['id']}/predictions/{made_id}").json())
    assert sorted(set(stored(stack, job["id"])[1]) - set(files)) == [f"{made['id']}.csv", f"{made['id']}.parquet"]


def test_the_sdk_retries_a_lost_prediction_into_the_same_one(stack: Stack, trained: dict[str, Any]) -> None:
    job, rows = trained["job"], [[5.1, 3.5, 1.4, 0.2]]
    count, _ = stored(stack, job["id"])
    upstream_port = int(stack.base_url.rsplit(":", 1)[1])
    with (
        ResettingProxy(upstream_port) as proxy,
        trainwell.Client(base_url=proxy.url, api_key=trained["key"], max_retries=2) as sdk,
    ):
        table = sdk.jobs.predict(job["id"], rows)
    posts = [r for r in proxy.requests if r.startswith(f"POST /v1/jobs/{job['id']}/predictions ".encode())]
    assert len(posts) == 2 and len(proxy.lost_answers) == 1, proxy.requests
    assert header_of(posts[0], "Idempotency-Key") == header_of(posts[1], "Idempotency-Key")
    assert b"idempotent-replayed: true" in bytes(proxy.delivered).lower()
    assert len(table.predicted) == 1 and stored(stack, job["id"])[0] == count + 1, "one prediction, not two"

    async def predict_twice() -> tuple[trainwell.PredictionTable, trainwell.PredictionTable]:
        async with trainwell.AsyncClient(base_url=stack.base_url, api_key=trained["key"]) as client:
            handle = await client.jobs.retrieve(job["id"])
            key = f"sdk-{time.time_ns()}"
            first = await handle.predict(rows, idempotency_key=key)
            with pytest.raises(trainwell.ConflictError):
                await handle.predict([[6.7, 3.0, 5.2, 2.3]], idempotency_key=key)
            return first, await handle.predict(rows, idempotency_key=key)

    first, again = asyncio.run(predict_twice())
    assert first.predictions.id == again.predictions.id and first.predicted == again.predicted
    assert stored(stack, job["id"])[0] == count + 2


def test_deleting_the_job_removes_its_predictions(stack: Stack) -> None:
    key = stack.new_key("prediction-deleter")
    spec = {**LINEAR_ON_CIRCLES, "epochs": 3, "diagnosis": {"probes": False}}
    with stack.client(key) as client:
        job = wait_for(client, client.post("/v1/jobs", json=spec).json()["id"], finished, timeout=600)
        assert job["status"] == "succeeded", job
        made = client.post(f"/v1/jobs/{job['id']}/predictions", json={"rows": [[0.1, 0.2], [0.5, -0.3]]}).json()
        made = wait_for_predictions(client, made)
        assert len(read_csv(client, made)) == 2
        count, files = stored(stack, job["id"])
        assert count == 1 and files == [f"{made['id']}.csv", f"{made['id']}.parquet"]
        folder = stack.data_dir / "checkpoints" / job["id"] / "predictions"
        counted = client.get("/v1/usage").json()["bytes"]["by_kind"]["predictions"]
        assert counted == sum((folder / name).stat().st_size for name in files), "the principal's stored bytes"

        assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
        assert client.get("/v1/usage").json()["bytes"]["by_kind"]["predictions"] == 0
        assert client.get(f"/v1/jobs/{job['id']}/predictions/{made['id']}").status_code == 404
        assert stored(stack, job["id"]) == (0, [])
        assert not (stack.data_dir / "checkpoints" / job["id"]).exists()
