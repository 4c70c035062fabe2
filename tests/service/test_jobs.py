"""Jobs over real HTTP, trained by a real Celery worker, on both SQLite and PostgreSQL + Redis."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.stack import Stack, finished, wait_for

TINY_DIGITS = {
    "name": "tiny-digits",
    "dataset": {"name": "digits"},
    "model": {"hidden": [32]},
    "optimizer": {"name": "adam", "lr": 0.01},
    "epochs": 3,
}
# long enough to still be running when we cancel it
LONG_DIGITS = {**TINY_DIGITS, "name": "long", "epochs": 5000}


def test_digits_job_trains_on_the_worker_and_its_metrics_come_back(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        created = client.post("/v1/jobs", json=TINY_DIGITS)
        assert created.status_code == 201, created.text
        job = created.json()
        assert job["status"] == "queued" and job["origin"] == "user" and job["progress"]["epochs"] == 3
        assert job["spec"]["optimizer"]["lr"] == 0.01 and job["spec"]["batch_size"] == 64  # defaults filled in

        done = wait_for(client, job["id"], finished)
        assert done["status"] == "succeeded", (done, stack.log())
        assert done["attempt"] == 1 and done["progress"]["epoch"] == 3
        assert done["started_at"] and done["finished_at"] and done["error"] is None
        assert done["summary"]["best_metrics"]["val_accuracy"] > 0.5  # digits is easy: chance is 0.1
        # the worker's default: half the cores, for the training and the diagnosis a slot runs at once
        assert done["summary"]["cpu_threads"] == max(1, (os.cpu_count() or 1) // 2), done["summary"]

        metrics = client.get(f"/v1/jobs/{job['id']}/metrics", params={"names": "train_loss,val_loss"}).json()
        series = {(s["name"], s["fold"]): s["points"] for s in metrics["series"]}
        assert set(series) == {("train_loss", 0), ("val_loss", 0)}
        for points in series.values():
            assert [p["epoch"] for p in points] == [1, 2, 3]
        train = [p["value"] for p in series[("train_loss", 0)]]
        assert train[-1] < train[0], "training loss must fall on digits"

        every = client.get(f"/v1/jobs/{job['id']}/metrics").json()["series"]
        assert {"lr", "train_accuracy", "val_accuracy", "test_loss"} <= {s["name"] for s in every}


def test_bad_specs_are_422_naming_the_field_and_store_nothing(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        before = len(client.get("/v1/jobs", params={"limit": 200}).json()["data"])

        wrong_optimizer = client.post("/v1/jobs", json={**TINY_DIGITS, "optimizer": {"name": "adamax"}})
        assert wrong_optimizer.status_code == 422
        error = wrong_optimizer.json()["error"]
        assert error["code"] == "invalid_request"
        assert "optimizer.name" in error["message"] and "'sgd'" in error["message"] and "'adamw'" in error["message"]

        unknown_dataset = client.post("/v1/jobs", json={**TINY_DIGITS, "dataset": {"name": "mnist"}})
        assert unknown_dataset.status_code == 422
        message = unknown_dataset.json()["error"]["message"]
        assert "dataset.name" in message and "mnist" in message and "digits" in message and "moons" in message

        typo = client.post("/v1/jobs", json={**TINY_DIGITS, "learning_rate": 0.1})
        assert typo.status_code == 422 and "learning_rate" in typo.json()["error"]["message"]

        wrong_loss = client.post("/v1/jobs", json={**TINY_DIGITS, "loss": "huber"})
        assert wrong_loss.status_code == 422 and "cross_entropy" in wrong_loss.json()["error"]["message"]

        not_json = client.post("/v1/jobs", content=b"{", headers={"Content-Type": "application/json"})
        assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"

        after = len(client.get("/v1/jobs", params={"limit": 200}).json()["data"])
        assert after == before, "a rejected spec must store nothing"


def test_keys_are_required_and_jobs_are_private(stack: Stack) -> None:
    with stack.client() as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        missing = anonymous.get("/v1/jobs")
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        # every response names its request: the client's own id when it is sane, a fresh one otherwise
        assert len(missing.headers["X-Request-ID"]) == 32
        assert anonymous.get("/healthz", headers={"X-Request-ID": "trace-42"}).headers["X-Request-ID"] == "trace-42"
        assert anonymous.get("/healthz", headers={"X-Request-ID": "a b\tc"}).headers["X-Request-ID"] != "a b\tc"
    with stack.client("tw_00000000_forged") as forged:
        assert forged.post("/v1/jobs", json=TINY_DIGITS).status_code == 401

    with stack.client(stack.keys["alice"]) as alice, stack.client(stack.keys["bob"]) as bob:
        job = alice.post("/v1/jobs", json={**TINY_DIGITS, "epochs": 1}).json()
        for response in (
            bob.get(f"/v1/jobs/{job['id']}"),
            bob.post(f"/v1/jobs/{job['id']}/cancel"),
            bob.get(f"/v1/jobs/{job['id']}/metrics"),
        ):
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "not_found"
        assert job["id"] not in {j["id"] for j in bob.get("/v1/jobs").json()["data"]}
        assert alice.get("/v1/jobs/no-such-job").status_code == 404
        wait_for(alice, job["id"], finished)


def test_idempotency_key_makes_one_job(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        headers = {"Idempotency-Key": f"submit-{time.time_ns()}"}
        first = client.post("/v1/jobs", json={**TINY_DIGITS, "epochs": 1}, headers=headers)
        again = client.post("/v1/jobs", json={**TINY_DIGITS, "epochs": 1}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert again.headers.get("Idempotent-Replayed") == "true"
        changed = client.post("/v1/jobs", json={**TINY_DIGITS, "epochs": 2}, headers=headers)
        assert changed.status_code == 409 and changed.json()["error"]["code"] == "idempotency_conflict"
        wait_for(client, first.json()["id"], finished)


def test_concurrent_submits_with_one_idempotency_key_make_one_job(stack: Stack) -> None:
    key = stack.new_key("racing-retries")
    headers = {"Idempotency-Key": f"race-{time.time_ns()}"}
    body = {**TINY_DIGITS, "name": "raced", "epochs": 1}
    start = threading.Barrier(8)

    def submit(_: int) -> tuple[int, str]:
        with stack.client(key) as client:
            start.wait()  # all eight at once: the losers of the insert race must replay the winner's job
            response = client.post("/v1/jobs", json=body, headers=headers)
            return response.status_code, response.json().get("id", response.text)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(submit, range(8)))
    assert {status for status, _ in results} == {201}, results
    assert len({job_id for _, job_id in results}) == 1
    with stack.client(key) as client:
        assert [j["id"] for j in client.get("/v1/jobs").json()["data"]] == [results[0][1]]
        wait_for(client, results[0][1], finished)


def test_jobs_carry_their_diagnosis_verdict_once_diagnosed(stack: Stack) -> None:
    with stack.client(stack.new_key("verdicts")) as client:
        created = client.post("/v1/jobs", json={**TINY_DIGITS, "epochs": 1}).json()
        assert created["verdict"] is None
        diagnosed = wait_for(client, created["id"], lambda j: j["verdict"] is not None)
        assert diagnosed["status"] == "succeeded"
        assert diagnosed["verdict"] == client.get(f"/v1/jobs/{created['id']}/diagnosis").json()["verdict"]

        running = client.post("/v1/jobs", json=LONG_DIGITS).json()
        wait_for(client, running["id"], lambda j: j["status"] == "running")
        # the worker runs one job at a time: this one waits behind the running one
        queued = client.post("/v1/jobs", json={**TINY_DIGITS, "name": "waits"}).json()
        try:
            listed = {j["id"]: j for j in client.get("/v1/jobs").json()["data"]}
            assert listed[created["id"]]["verdict"] == diagnosed["verdict"]
            assert listed[queued["id"]]["status"] == "queued" and listed[queued["id"]]["verdict"] is None
            assert listed[running["id"]]["verdict"] is None
            assert client.get(f"/v1/jobs/{queued['id']}").json()["verdict"] is None
        finally:
            client.post(f"/v1/jobs/{queued['id']}/cancel")
            client.post(f"/v1/jobs/{running['id']}/cancel")
        wait_for(client, running["id"], finished)


def test_cancel_stops_a_running_job_and_a_queued_job_never_starts(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        running = client.post("/v1/jobs", json=LONG_DIGITS).json()
        wait_for(client, running["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 2)
        # the worker runs one job at a time, so these wait in the queue behind it
        queued = [client.post("/v1/jobs", json={**TINY_DIGITS, "name": f"queued-{i}"}).json() for i in range(5)]

        # pagination over the queued ones: newest first, pages of 2, no overlap
        seen, cursor = [], None
        while True:
            params = {"limit": 2, "status": "queued", **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/jobs", params=params).json()
            assert len(page["data"]) <= 2
            seen += [j["id"] for j in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [j["id"] for j in reversed(queued)]
        assert client.get("/v1/jobs", params={"cursor": "garbage"}).status_code == 400

        for job in queued:
            cancelled = client.post(f"/v1/jobs/{job['id']}/cancel")
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

        asked = time.monotonic()
        assert client.post(f"/v1/jobs/{running['id']}/cancel").json()["status"] == "cancelling"
        stopped = wait_for(client, running["id"], finished, timeout=30)
        assert stopped["status"] == "cancelled"
        assert time.monotonic() - asked < 2, "a running job must stop within 2 s of cancel"
        trained = stopped["progress"]["epoch"]
        assert 2 <= trained < 5000
        points = client.get(f"/v1/jobs/{running['id']}/metrics", params={"names": "train_loss"}).json()["series"][0]
        assert len(points["points"]) == trained, "the metrics of the epochs run so far are kept"
        assert client.post(f"/v1/jobs/{running['id']}/cancel").status_code == 409

        # the worker is free again; the cancelled jobs' messages must find nothing to train
        probe = client.post("/v1/jobs", json={**TINY_DIGITS, "epochs": 1}).json()
        assert wait_for(client, probe["id"], finished)["status"] == "succeeded"
        for job in queued:
            final = client.get(f"/v1/jobs/{job['id']}").json()
            assert final["status"] == "cancelled" and final["started_at"] is None and final["attempt"] == 0


def test_metrics_downsampling_and_filters(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json={**TINY_DIGITS, "epochs": 12, "model": {"hidden": [8]}}).json()
        wait_for(client, job["id"], finished)
        full = client.get(f"/v1/jobs/{job['id']}/metrics", params={"names": ["train_loss"]}).json()["series"][0]
        small = client.get(f"/v1/jobs/{job['id']}/metrics", params={"names": ["train_loss"], "max_points": 4}).json()
        points = small["series"][0]["points"]
        assert len(full["points"]) == 12 and len(points) <= 4
        values = [p["value"] for p in full["points"]]
        kept = [p["value"] for p in points]
        assert max(values) in kept and min(values) in kept, "downsampling keeps the extremes"
        assert client.get(f"/v1/jobs/{job['id']}/metrics", params={"fold": 1}).json()["series"] == []
        unknown = client.get(f"/v1/jobs/{job['id']}/metrics", params={"names": "val_los"})
        assert unknown.status_code == 422 and "val_loss" in unknown.json()["error"]["message"]
        low, high = full["points"][3]["step"], full["points"][6]["step"]
        for max_points in (None, 100):  # a zoom, read whole or sampled from the rollups
            params = {"names": "train_loss", "from_step": low, "to_step": high}
            zoomed = client.get(
                f"/v1/jobs/{job['id']}/metrics", params=params | ({"max_points": max_points} if max_points else {})
            )
            assert zoomed.json()["series"][0]["points"] == full["points"][3:7]
        backwards = client.get(f"/v1/jobs/{job['id']}/metrics", params={"from_step": high, "to_step": low})
        assert backwards.status_code == 422 and "to_step" in backwards.json()["error"]["message"]


def test_readiness_checks_database_and_broker(stack: Stack) -> None:
    with stack.client() as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert ready.json()["workers"]["train"] >= 1, "the stack's worker is live on the train queue"


def test_a_diverging_job_fails_with_reason_diverged_and_keeps_its_metrics(stack: Stack) -> None:
    # plain SGD at lr 10 on raw diabetes features overflows within a few epochs
    spec = {
        "name": "explodes",
        "dataset": {"name": "diabetes", "feature_norm": "none"},
        "model": {"hidden": [32]},
        "optimizer": {"name": "sgd", "lr": 10.0},
        "epochs": 20,
    }
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json=spec).json()
        done = wait_for(client, job["id"], finished)
        assert done["status"] == "failed", done
        assert done["error"]["reason"] == "diverged" and done["error"]["message"]
        assert "\n" not in done["error"]["message"], "the reason is one line; the traceback is kept apart"
        assert done["progress"]["epoch"] < 20
        series = client.get(f"/v1/jobs/{job['id']}/metrics", params={"names": "train_loss"}).json()["series"]
        assert all(p["value"] == p["value"] for s in series for p in s["points"]), "no NaN is stored"
