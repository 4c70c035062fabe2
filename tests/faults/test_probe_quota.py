"""Probe jobs are the principal's jobs: they count against its active-jobs quota (and only a few are in
flight at once), and they run after the principal's own queued jobs, so probes never delay a user's next
job. Ten badly fitting jobs submitted at once, each of which would plan two probes: all ten start before
any probe, and the principal never has more than max_active_jobs queued or running. Real processes,
PostgreSQL and Redis."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from core.broker import TRAIN_QUEUE
from tests.specs import LINEAR_ON_CIRCLES
from tests.stack import finished, make_services, new_key, postgres_database, redis_database, wait_for
from tests.stack import wait_for_diagnosis as diagnosis_of

MAX_ACTIVE = 10
SPEC = {**LINEAR_ON_CIRCLES, "epochs": 5}  # a linear model on circles: its training loss stays high


def _most_at_once(jobs: list[dict[str, Any]]) -> int:
    """The most jobs queued or running at any one moment, from their created and finished times."""
    edges = []
    for job in jobs:
        edges.append((datetime.fromisoformat(job["created_at"]), 1))
        edges.append((datetime.fromisoformat(job["finished_at"]), -1))
    most = active = 0
    for _, change in sorted(edges):  # at a tie, -1 first: a job ended as another was made
        active += change
        most = max(most, active)
    return most


def test_probes_count_against_the_quota_and_wait_for_the_users_own_jobs(tmp_path: Path) -> None:
    with postgres_database() as database_url, redis_database() as broker_url:
        services = make_services(
            tmp_path, database_url=database_url, broker_url=broker_url, max_active_jobs=str(MAX_ACTIVE)
        )
        try:
            services.start_api()
            services.start_worker()
            broker = redis.Redis.from_url(broker_url)
            with broker, services.client(new_key(database_url, "probe-tester")) as client:
                own = [client.post("/v1/jobs", json=SPEC).json() for _ in range(MAX_ACTIVE)]
                assert all("id" in job for job in own), own
                for job in own:
                    wait_for(client, job["id"], finished, timeout=300)
                probes = [
                    j for j in client.get("/v1/jobs", params={"limit": 100}).json()["data"] if j["origin"] == "probe"
                ]
                assert probes, "no probe ran: the test shows nothing"
                done = [wait_for(client, probe["id"], finished, timeout=300) for probe in probes]
                for job in own:  # none waits for probes for ever
                    diagnosis_of(client, job["id"], ("ready",), timeout=60)
                users = [client.get(f"/v1/jobs/{job['id']}").json() for job in own]

                # a job submitted while a diagnosis's probe waits in the queue goes before it
                probed = client.post("/v1/jobs", json=SPEC).json()
                diagnosis_of(client, probed["id"], ("running_probes",), timeout=300)
                later = client.post("/v1/jobs", json={**SPEC, "diagnosis": {"probes": False}}).json()
                in_queue = {json.loads(raw)["headers"]["id"] for raw in broker.lrange(TRAIN_QUEUE, 0, -1)}
                children = client.get("/v1/jobs", params={"parent_id": probed["id"]}).json()["data"]
                waiting = [child["id"] for child in children if child["id"] in in_queue]
                assert waiting, "both probes had left the queue: the test shows nothing"
                later_start = datetime.fromisoformat(wait_for(client, later["id"], finished, timeout=300)["started_at"])
                for probe_id in waiting:
                    start = datetime.fromisoformat(wait_for(client, probe_id, finished, timeout=300)["started_at"])
                    assert later_start < start, "a probe queued first delayed the principal's next job"

            last_own_start = max(datetime.fromisoformat(job["started_at"]) for job in users)
            first_probe_start = min(datetime.fromisoformat(p["started_at"]) for p in done if p["started_at"])
            assert last_own_start < first_probe_start, "a probe started before the principal's own job"
            assert _most_at_once(users + done) <= MAX_ACTIVE, f"{len(done)} probes passed the active-jobs quota"
        finally:
            services.stop()
