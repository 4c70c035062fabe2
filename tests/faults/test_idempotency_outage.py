"""A replay answers only with a job that is durably queued. Redis is paused (SIGSTOP of a throwaway
redis-server) while 50 requests with one Idempotency-Key race: the first one's send cannot finish, so
no request may answer 201 with its job id (it is removed when the send fails); once Redis is back, a
retry makes the job, and every 201 names a job that exists. Real processes, PostgreSQL and Redis."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.faults.test_broker_restart import RedisServer, redis_server  # noqa: F401  (the fixture)
from tests.stack import make_services, new_key, postgres_database

TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 1}
REQUESTS = 50


def test_a_replay_never_names_a_job_whose_send_failed(tmp_path: Path, redis_server: RedisServer) -> None:  # noqa: F811
    with postgres_database() as database_url:
        services = make_services(
            tmp_path, database_url=database_url, broker_url=f"redis://127.0.0.1:{redis_server.port}/0"
        )
        try:
            services.start_api(workers=2)
            key = new_key(database_url, "idempotent-tester")
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "one-job-please"}

            def submit(_: int) -> httpx.Response:
                with httpx.Client(base_url=services.base_url, headers=headers, timeout=60) as client:
                    return client.post("/v1/jobs", json=TINY)

            assert redis_server.process is not None
            os.kill(redis_server.process.pid, signal.SIGSTOP)
            try:
                with ThreadPoolExecutor(REQUESTS) as pool:
                    answers = list(pool.map(submit, range(REQUESTS)))
            finally:
                os.kill(redis_server.process.pid, signal.SIGCONT)

            with services.client(key) as client:
                statuses = sorted({answer.status_code for answer in answers})
                assert set(statuses) <= {201, 503}, [a.text for a in answers if a.status_code not in (201, 503)]
                for answer in answers:
                    if answer.status_code == 201:  # whatever was answered 201 exists
                        job_id = answer.json()["id"]
                        assert client.get(f"/v1/jobs/{job_id}").status_code == 200, (statuses, job_id)
                    else:
                        assert answer.json()["error"]["code"] == "broker_unavailable", answer.text

                retry = submit(0)  # Redis is back: the retry makes the one job, or replays the one made
                assert retry.status_code == 201, retry.text
                assert client.get(f"/v1/jobs/{retry.json()['id']}").status_code == 200
                made = {a.json()["id"] for a in [*answers, retry] if a.status_code == 201}
                assert len(made) == 1, made
        finally:
            services.stop()
