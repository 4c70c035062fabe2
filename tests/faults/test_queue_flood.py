"""The reaper re-sends only what the broker really lost. Jobs wait behind a busy worker far longer than
requeue_after: their messages are still in Redis, so none is copied (the queue holds one message per job),
and a copy that does reach the worker costs no fork. A message really deleted from Redis is sent again.
Real processes, PostgreSQL and Redis."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import redis

from core.broker import TRAIN_QUEUE
from tests.stack import finished, make_services, new_key, postgres_database, redis_database, wait_for

# keeps the worker busy until it is cancelled
BUSY = {"dataset": {"name": "digits"}, "model": {"hidden": [128]}, "batch_size": 16, "epochs": 500}
TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 1, "diagnosis": {"probes": False}}
WAITING = 12


def _queued_ids(client: redis.Redis) -> Counter[str]:
    return Counter(json.loads(raw)["headers"]["id"] for raw in client.lrange(TRAIN_QUEUE, 0, -1))


def test_jobs_queued_past_requeue_after_are_not_copied_and_a_lost_message_is_resent(tmp_path: Path) -> None:
    with postgres_database() as database_url, redis_database() as broker_url:
        services = make_services(
            tmp_path,
            database_url=database_url,
            broker_url=broker_url,
            reaper_interval_seconds="0.2",
            requeue_after_seconds="0.5",
        )
        broker = redis.Redis.from_url(broker_url)
        try:
            services.start_api()
            services.start_worker()
            with services.client(new_key(database_url, "flood-tester")) as client:
                busy = client.post("/v1/jobs", json=BUSY).json()
                wait_for(client, busy["id"], lambda j: j["status"] == "running", timeout=60)
                waiting = [client.post("/v1/jobs", json=TINY).json()["id"] for _ in range(WAITING)]

                # a dozen reaper rounds past requeue_after while the worker is busy: one message per job
                most = Counter[str]()
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:
                    most |= _queued_ids(broker)
                    time.sleep(0.05)
                assert client.get(f"/v1/jobs/{busy['id']}").json()["status"] == "running", "the worker was not busy"
                assert set(most) == set(waiting) and max(most.values()) == 1, most

                # a message the broker really lost is sent again
                lost = waiting[-1]
                raw = next(r for r in broker.lrange(TRAIN_QUEUE, 0, -1) if json.loads(r)["headers"]["id"] == lost)
                assert broker.lrem(TRAIN_QUEUE, 0, raw) == 1
                deadline = time.monotonic() + 10
                while _queued_ids(broker)[lost] != 1:
                    assert time.monotonic() < deadline, "the lost message was not sent again"
                    time.sleep(0.05)
                assert max(_queued_ids(broker).values()) == 1
                assert client.get(f"/v1/jobs/{busy['id']}").json()["status"] == "running"

                client.post(f"/v1/jobs/{busy['id']}/cancel")
                assert wait_for(client, busy["id"], finished, timeout=60)["status"] == "cancelled"
                for job_id in waiting:
                    assert wait_for(client, job_id, finished, timeout=120)["status"] == "succeeded"
            logs = services.worker_logs()
            assert logs.count("its message not in the broker; sent again") == 1, logs[-3000:]
        finally:
            broker.close()
            services.stop()
