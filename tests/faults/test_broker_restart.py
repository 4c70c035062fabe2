"""Redis runs without persistence here: a restart loses every queued message. The
database is the truth, so the reaper sends queued jobs again and all of them finish.
The test starts a Redis server of its own (own port, temp dir); the shared one is never touched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import RedisServer
from tests.servers import redis_server as start_redis_server
from tests.stack import Services, finished, make_services, new_key, postgres_database, wait_for

TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 2}
LONG = {"dataset": {"name": "digits"}, "model": {"hidden": [128]}, "batch_size": 16, "epochs": 40}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with start_redis_server(tmp_path) as server:
        yield server


def test_jobs_queued_and_running_all_finish_across_a_redis_restart(tmp_path: Path, redis_server: RedisServer) -> None:
    with postgres_database() as database_url:
        services: Services = make_services(
            tmp_path,
            database_url=database_url,
            broker_url=f"redis://127.0.0.1:{redis_server.port}/0",
            heartbeat_seconds="0.2",
            reaper_interval_seconds="0.5",
            requeue_after_seconds="3",
        )
        try:
            services.start_api()
            services.start_worker()
            key = new_key(database_url, "restart-tester")
            with services.client(key) as client:
                running = client.post("/v1/jobs", json=LONG).json()
                wait_for(client, running["id"], lambda j: j["status"] == "running", timeout=60)
                queued = [client.post("/v1/jobs", json=TINY).json() for _ in range(3)]

                redis_server.stop()  # every queued message is gone
                redis_server.start()

                for job in [running, *queued]:
                    done = wait_for(client, job["id"], finished, timeout=180)
                    assert done["status"] == "succeeded", (done, services.worker_logs()[-4000:])
                    assert done["attempt"] == 1, "running jobs kept running; lost messages were sent again"
            assert "its message not in the broker; sent again" in services.worker_logs()
        finally:
            services.stop()
