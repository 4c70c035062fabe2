"""A PostgreSQL restart mid-job: the API answers 503 with a JSON error (never a 500 or
a hang) and /readyz is 503; the worker keeps training, buffers its metric writes and
catches up; no epoch's metrics are lost. The test makes its own cluster (initdb into a
temp dir, its own port), so the shared server is never stopped."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import PostgresCluster, postgres_cluster
from tests.stack import finished, make_services, new_key, redis_database, wait_for

SPEC = {"dataset": {"name": "digits"}, "model": {"hidden": [128]}, "batch_size": 16, "epochs": 30}


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as made:
        yield made


def test_database_restart_mid_job_loses_no_metrics(tmp_path: Path, cluster: PostgresCluster) -> None:
    database_url = cluster.create_database("trainwell")
    with redis_database() as broker_url:
        services = make_services(
            tmp_path,
            database_url=database_url,
            broker_url=broker_url,
            heartbeat_seconds="0.2",
            reaper_interval_seconds="0.5",
        )
        try:
            services.start_api()
            services.start_worker()
            key = new_key(database_url, "outage-tester")
            with services.client(key) as client:
                job = client.post("/v1/jobs", json=SPEC).json()
                wait_for(client, job["id"], lambda j: j["progress"]["epoch"] >= 3, timeout=120)

                cluster.stop()
                outage_began = time.monotonic()
                began = time.monotonic()
                during = client.get(f"/v1/jobs/{job['id']}")
                assert time.monotonic() - began < 10, "a request during the outage must not hang"
                assert during.status_code == 503, during.text
                assert during.json()["error"]["code"] == "database_unavailable"
                ready = client.get("/readyz")
                assert ready.status_code == 503 and "database" in ready.json()["error"]["details"]["unavailable"]
                time.sleep(max(0.0, 4 - (time.monotonic() - outage_began)))  # long enough for failed writes
                cluster.start()

                done = wait_for(client, job["id"], finished, timeout=180)
                assert done["status"] == "succeeded" and done["attempt"] == 1, (done, services.worker_logs()[-4000:])
                series = client.get(f"/v1/jobs/{job['id']}/metrics", params={"names": "train_loss,val_loss"}).json()
                for s in series["series"]:
                    assert [p["epoch"] for p in s["points"]] == list(range(1, 31)), f"{s['name']}: an epoch is missing"
                assert client.get("/readyz").status_code == 200
                retries = re.search(r"^trainwell_metric_write_retries_total (\S+)$", client.get("/metrics").text, re.M)
                assert retries and float(retries.group(1)) >= 1, "the retried writes are counted"
            logs = services.worker_logs()
            assert "metric write failed" in logs and "caught up" in logs, "the outage should have been felt and healed"
        finally:
            services.stop()
