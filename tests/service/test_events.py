"""GET /v1/jobs/{id}/events over plain HTTP, on SQLite (polling) and PostgreSQL + Redis (pub/sub)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import redis

from core.events import job_channel
from tests.stack import REDIS_HOST, REDIS_PORT, Stack, finished, wait_for

# two folds of two epochs: the stream must order epochs by fold, then epoch. Two epochs leave the loss
# high: probes off, so the stream ends with one diagnosis (a probed one sends two: tests/service/test_probes.py)
KFOLD = {
    "name": "events-kfold",
    "dataset": {"name": "iris", "validation": {"kfold": 2}},
    "model": {"hidden": [8]},
    "epochs": 2,
    "diagnosis": {"probes": False},
}
LONG = {"name": "events-long", "dataset": {"name": "digits"}, "model": {"hidden": [16]}, "epochs": 2000}
FINAL = {"succeeded", "failed", "cancelled"}


def read_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse a text/event-stream; yields {"event", "id", "data"} per event (comments skipped)."""
    event: dict[str, Any] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in event:
                event["data"] = json.loads(event["data"])
                yield event
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            event[field] = value.removeprefix(" ")


def stream(client: httpx.Client, job_id: str, last_event_id: str | None = None) -> list[dict[str, Any]]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_events(response))  # returns only because the server ends the stream


def test_events_bring_status_changes_and_every_epoch_in_order_then_end(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json=KFOLD).json()
        events = stream(client, job["id"])

        first, last, diagnosis = events[0], events[-2], events[-1]
        assert first["event"] == "status" and first["data"]["status"] in {"queued", "running"}
        assert last["event"] == "status" and last["data"]["status"] == "succeeded"
        assert last["data"]["summary"]["best_metrics"], "the final status carries the summary"
        assert diagnosis["event"] == "diagnosis" and diagnosis["data"]["status"] == "ready"
        assert diagnosis["data"] == client.get(f"/v1/jobs/{job['id']}/diagnosis").json(), "the stored diagnosis"
        statuses = [e["data"]["status"] for e in events if e["event"] == "status"]
        assert statuses[-2:] == ["running", "succeeded"] and len(statuses) == len(set(statuses))

        epochs = [e["data"] for e in events if e["event"] == "epoch"]
        assert [(e["fold"], e["epoch"]) for e in epochs] == [(0, 1), (0, 2), (1, 1), (1, 2)]
        assert {"train_loss", "val_loss", "test_loss", "val_accuracy", "lr", "grad_norm"} <= set(epochs[0]["metrics"])
        assert not any(name.startswith("step_") for e in epochs for name in e["metrics"])

        # the streamed values are the stored ones
        stored = client.get(f"/v1/jobs/{job['id']}/metrics", params={"names": "val_loss", "fold": 1}).json()
        assert [p["value"] for p in stored["series"][0]["points"]] == [e["metrics"]["val_loss"] for e in epochs[2:]]
        assert len({e["id"] for e in events}) == len(events), "every event id is distinct"


def test_last_event_id_resumes_after_what_was_seen(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json=KFOLD).json()
        assert wait_for(client, job["id"], finished)["status"] == "succeeded"
        everything = stream(client, job["id"])
        # a fresh stream on a finished job: its epochs, the final status, then the diagnosis
        assert [e["event"] for e in everything] == ["epoch"] * 4 + ["status", "diagnosis"]

        second_epoch = everything[1]
        resumed = stream(client, job["id"], last_event_id=second_epoch["id"])
        assert [e["id"] for e in resumed] == [e["id"] for e in everything[2:]]
        after_status = stream(client, job["id"], last_event_id=everything[-2]["id"])
        assert [e["event"] for e in after_status] == ["diagnosis"]
        assert stream(client, job["id"], last_event_id=everything[-1]["id"]) == []

        bad = client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": "nonsense"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_last_event_id"


def test_events_of_someone_elses_job_are_404_and_need_a_key(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as alice, stack.client(stack.keys["bob"]) as bob, stack.client() as anon:
        job = alice.post("/v1/jobs", json={**KFOLD, "epochs": 1}).json()
        foreign = bob.get(f"/v1/jobs/{job['id']}/events")
        assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
        assert bob.get("/v1/jobs/no-such-job/events").status_code == 404
        assert anon.get(f"/v1/jobs/{job['id']}/events").status_code == 401
        wait_for(alice, job["id"], finished)


def test_a_live_stream_follows_a_running_job_and_a_disconnect_ends_it(stack: Stack) -> None:
    production = stack.database_url.startswith("postgresql")
    # Pub/sub channels are server-wide (not per db number), and each job's channel is its own.
    subscribers = redis.Redis(host=REDIS_HOST, port=REDIS_PORT) if production else None
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json=LONG).json()
        try:
            with client.stream("GET", f"/v1/jobs/{job['id']}/events", timeout=60) as response:
                seen: list[tuple[int, int]] = []
                events = read_events(response)  # held: a dropped generator would close the response
                for event in events:
                    if event["event"] == "epoch":
                        seen.append((event["data"]["fold"], event["data"]["epoch"]))
                    if len(seen) == 3:
                        break
                assert seen == [(0, 1), (0, 2), (0, 3)]
                if subscribers is not None:
                    assert subscribers.pubsub_numsub(job_channel(job["id"]))[0][1] == 1
            # the client went away mid-job: the server must drop its subscription (its generator ended)
            if subscribers is not None:
                deadline = time.monotonic() + 20
                while subscribers.pubsub_numsub(job_channel(job["id"]))[0][1] != 0:
                    assert time.monotonic() < deadline, "the stream's Redis subscription outlived its client"
                    time.sleep(0.1)
        finally:
            client.post(f"/v1/jobs/{job['id']}/cancel")
            if subscribers is not None:
                subscribers.close()
        assert wait_for(client, job["id"], finished)["status"] == "cancelled"
