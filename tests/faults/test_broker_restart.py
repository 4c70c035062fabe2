"""Redis runs without persistence here: a restart loses every queued message. The
database is the truth, so the reaper sends queued jobs again and all of them finish.
The test starts a Redis server of its own (own port, temp dir); the shared one is never touched."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import IN_CI, Services, finished, free_port, make_services, new_key, postgres_database, wait_for

TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 2}
LONG = {"dataset": {"name": "digits"}, "model": {"hidden": [128]}, "batch_size": 16, "epochs": 40}


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.port, self.directory, self.process = free_port(), directory, None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() != b"PONG"
        ):
            assert time.monotonic() < deadline, "the test's Redis did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("redis-server is not installed and CI=true")
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


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
            assert "message sent again" in services.worker_logs()
        finally:
            services.stop()
