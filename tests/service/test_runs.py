"""Runs from the user's own loop over real HTTP: created, fed metric batches, finished and diagnosed by
the worker like a job; bad batches refused whole; re-sent points stored once; private to their owner."""

from __future__ import annotations

import json
import math
from typing import Any

from tests.stack import Stack, wait_for_diagnosis

RUN = {
    "name": "own-loop",
    "task": "classification",
    "classes": 3,
    "class_prior": [0.4, 0.3, 0.3],
    "config": {"lr": 0.1},
}


def _overfitting_points(epochs: int = 12) -> list[dict[str, Any]]:
    points = []
    for epoch in range(epochs):
        train = 1.1 * math.exp(-0.35 * epoch)
        val = 0.6 + 0.06 * (epoch - 4) ** 2 / 4
        points += [
            {"name": "train_loss", "step": epoch, "epoch": epoch, "value": train},
            {"name": "val_loss", "step": epoch, "epoch": epoch, "value": val},
            {"name": "custom/temperature", "step": epoch, "epoch": epoch, "value": 0.5},
        ]
    return points


def _stored(client: Any, run_id: str) -> dict[str, int]:
    series = client.get(f"/v1/jobs/{run_id}/metrics").json()["series"]
    return {s["name"]: len(s["points"]) for s in series}


def test_a_run_is_a_job_diagnosed_from_what_it_logged(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        created = client.post("/v1/runs", json=RUN)
        assert created.status_code == 201, created.text
        run = created.json()
        assert run["origin"] == "external" and run["status"] == "running" and run["spec"] is None
        assert run["run"]["config"] == {"lr": 0.1} and run["run"]["classes"] == 3
        points = _overfitting_points()
        first = client.post(f"/v1/runs/{run['id']}/metrics", json={"points": points[:18]})
        assert first.status_code == 200, first.text
        assert first.json()["stored"] == 18
        # the answer was lost: the client sends the same batch again
        again = client.post(f"/v1/runs/{run['id']}/metrics", json={"points": points[:18]})
        assert again.status_code == 200, again.text
        assert client.post(f"/v1/runs/{run['id']}/metrics", json={"points": points[18:]}).status_code == 200
        assert _stored(client, run["id"]) == {"train_loss": 12, "val_loss": 12, "custom/temperature": 12}
        own = client.get(f"/v1/jobs/{run['id']}/metrics", params={"names": "custom/temperature"}).json()["series"]
        assert [s["name"] for s in own] == ["custom/temperature"]

        finished = client.post(f"/v1/runs/{run['id']}/finish")
        assert finished.status_code == 200, finished.text
        assert finished.json()["status"] == "succeeded"
        diagnosis = wait_for_diagnosis(client, run["id"])
        assert diagnosis["verdict"] == "overfitting", diagnosis
        codes = [f["code"] for f in diagnosis["findings"]]
        assert "not_examined" in codes and diagnosis["curvature"] is None and not diagnosis["probes"]
        assert all(not f["remedies"] for f in diagnosis["findings"])
        read = client.get(f"/v1/jobs/{run['id']}").json()
        assert read["verdict"] == "overfitting" and read["summary"]["best_epoch"] == 5  # the lowest val_loss
        assert read["summary"]["final_metrics"]["train_loss"] == points[-3]["value"]
        events = client.get(f"/v1/jobs/{run['id']}/events", timeout=60).text  # ends: final and diagnosed
        assert "event: status" in events and "event: diagnosis" in events

        late = client.post(f"/v1/runs/{run['id']}/metrics", json={"points": points[:1]})
        assert late.status_code == 409 and late.json()["error"]["code"] == "run_finished"
        assert client.post(f"/v1/runs/{run['id']}/finish").status_code == 409
        assert client.post(f"/v1/jobs/{run['id']}/landscape").status_code in {404, 405, 409}


def test_a_non_finite_value_marks_the_run_diverged(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        run = client.post("/v1/runs", json={"task": "regression", "target_variance": 2.0}).json()
        points = [{"name": "train_loss", "step": e, "epoch": e, "value": 1.5 * 3**e} for e in range(4)]
        points.append({"name": "train_loss", "step": 4, "epoch": 4, "value": math.nan})
        points.append({"name": "val_loss", "step": 4, "epoch": 4, "value": "Infinity"})  # as the SDK writes it
        answer = client.post(
            f"/v1/runs/{run['id']}/metrics",
            content=json.dumps({"points": points}),  # NaN as Python's json writes it, as the SDK sends it
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() | {"run_id": None} == {
            "run_id": None,
            "accepted": 6,
            "stored": 4,
            "non_finite": 2,
            "diverged": True,
        }
        ended = client.post(f"/v1/runs/{run['id']}/finish").json()
        assert ended["status"] == "failed" and ended["error"]["reason"] == "diverged"
        assert "nan" in ended["error"]["message"]
        assert wait_for_diagnosis(client, run["id"])["verdict"] == "diverged"


def test_bad_batches_are_refused_whole_naming_the_point(stack: Stack) -> None:
    good = {"name": "train_loss", "step": 0, "epoch": 0, "value": 1.0}
    with stack.client(stack.keys["alice"]) as client:
        run = client.post("/v1/runs", json=RUN).json()
        url = f"/v1/runs/{run['id']}/metrics"
        cases = {
            "points[1].name": [good, {**good, "name": "accuracy"}],
            "points[2].step": [good, {**good, "step": 2}, {**good, "step": 1}],
        }
        for field, points in cases.items():
            refused = client.post(url, json={"points": points})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["details"][0]["field"] == field, refused.text
        too_many = [{**good, "step": i} for i in range(10_001)]
        refused = client.post(url, json={"points": too_many})
        assert refused.status_code in {413, 422}, refused.text
        assert _stored(client, run["id"]) == {}

        assert client.post(url, json={"points": [{**good, "step": 5}]}).status_code == 200
        behind = client.post(url, json={"points": [{**good, "name": "custom/x", "step": 9}, {**good, "step": 3}]})
        assert behind.status_code == 422 and behind.json()["error"]["details"][0]["field"] == "points[1].step"
        assert _stored(client, run["id"]) == {"train_loss": 1}

        assert client.post("/v1/runs", json={"task": "classification"}).status_code == 422
        assert client.post("/v1/runs", json={**RUN, "class_prior": [0.5, 0.5]}).status_code == 422
        client.post(f"/v1/runs/{run['id']}/finish")


def test_another_principals_run_is_not_found(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client, stack.client(stack.new_key("mallory")) as other:
        run = client.post("/v1/runs", json=RUN).json()
        batch = {"points": [{"name": "train_loss", "step": 0, "epoch": 0, "value": 1.0}]}
        assert other.post(f"/v1/runs/{run['id']}/metrics", json=batch).status_code == 404
        assert other.post(f"/v1/runs/{run['id']}/finish").status_code == 404
        assert other.get(f"/v1/jobs/{run['id']}").status_code == 404
        assert _stored(client, run["id"]) == {}
        assert client.post(f"/v1/runs/{run['id']}/finish").status_code == 200
