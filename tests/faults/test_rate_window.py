"""The submission rate window over real HTTP: a burst up to the limit is accepted and the next
submission is told exactly when a slot frees; and a submission refused while one of the caller's jobs
ends at that moment is never misreported as rate limited (it was: 429 rate_limited with Retry-After 60
under a limit of 1,000 a minute that no minute had reached)."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.stack import Services, make_services, new_key, postgres_database, redis_database

TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 1}
SECONDS, SUBMITTERS = 8.0, 12


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(database URL, broker URL): embedded SQLite files, or PostgreSQL and Redis."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trainwell.sqlite'}", f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
        return
    with ExitStack() as stack:
        yield stack.enter_context(postgres_database()), stack.enter_context(redis_database())


def api(tmp_path: Path, database: tuple[str, str], **settings: str) -> Services:
    """Two API processes and no worker: every job stays queued until it is cancelled."""
    services = make_services(tmp_path, database_url=database[0], broker_url=database[1], **settings)
    services.start_api(workers=2)
    return services


def submit_all(services: Services, key: str, count: int) -> list[httpx.Response]:
    """`count` submissions at once, each on its own connection."""

    def one(_: int) -> httpx.Response:
        with services.client(key) as client:
            return client.post("/v1/jobs", json=TINY)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_a_burst_at_the_rate_limit_is_accepted_and_the_next_is_told_when_a_slot_frees(
    tmp_path: Path, database: tuple[str, str]
) -> None:
    services = api(tmp_path, database, submissions_per_minute="20", max_active_jobs="1000")
    try:
        key = new_key(services.database_url, "rate-tester")
        burst = submit_all(services, key, 20)
        assert [r.status_code for r in burst] == [201] * 20, [r.text for r in burst if r.status_code != 201]
        with services.client(key) as client:
            refused = client.post("/v1/jobs", json=TINY)
            answered = datetime.now(UTC)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == "rate_limited"
            created = [datetime.fromisoformat(job["created_at"]) for job in client.get("/v1/jobs").json()["data"]]
        assert len(created) == 20, "the refused submission is not stored"
        # the slot frees when the oldest of the 20 leaves the minute: not sooner, and not much later
        frees_in = (min(created) + timedelta(minutes=1) - answered).total_seconds()
        retry_after = int(refused.headers["Retry-After"])
        assert math.ceil(frees_in) <= retry_after <= math.ceil(frees_in) + 1, (retry_after, frees_in)
    finally:
        services.stop()


def test_a_submission_refused_as_a_job_ends_is_never_told_it_is_rate_limited(
    tmp_path: Path, database: tuple[str, str]
) -> None:
    # One job at a time and a rate limit no minute reaches (refused submissions store nothing): every
    # refusal is the active limit. Submitters keep being refused while the caller's queued jobs keep
    # being cancelled, so some refusals are told just after their job ended.
    services = api(tmp_path, database, submissions_per_minute="1000", max_active_jobs="1")
    try:
        key = new_key(services.database_url, "race-tester")
        codes: Counter[str] = Counter()
        told: Counter[str] = Counter()
        deadline = time.monotonic() + SECONDS

        def submitter() -> None:
            with services.client(key) as client:
                while time.monotonic() < deadline:
                    response = client.post("/v1/jobs", json=TINY)
                    code = "created" if response.status_code == 201 else response.json()["error"]["code"]
                    codes[code] += 1
                    told[f"{code} {response.headers.get('Retry-After')}"] += 1

        def canceller() -> int:
            cancelled = 0
            with services.client(key) as client:
                while time.monotonic() < deadline:
                    for job in client.get("/v1/jobs", params={"status": "queued"}).json()["data"]:
                        cancelled += client.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
            return cancelled

        with ThreadPoolExecutor(SUBMITTERS + 1) as pool:
            cancels = pool.submit(canceller)
            for running in [pool.submit(submitter) for _ in range(SUBMITTERS)]:
                running.result()
            assert cancels.result() > 10, "the slot should have been freed many times"
        assert 10 < codes["created"] < 1000, dict(codes)  # under the rate limit in any minute
        assert codes["too_many_active_jobs"] > 100, dict(codes)
        assert codes["rate_limited"] == 0, f"rate limited under 1,000 a minute: {dict(told)}"
        assert set(codes) <= {"created", "too_many_active_jobs"}, dict(codes)
    finally:
        services.stop()


def test_a_sweeps_released_trials_are_not_counted_as_submissions(tmp_path: Path, database: tuple[str, str]) -> None:
    # Ten trials released at once by one POST /v1/sweeps, under a rate limit of five a minute: the
    # caller's next job is still accepted (the trials were counted as ten submissions: 429 rate_limited).
    services = api(tmp_path, database, submissions_per_minute="5", max_active_jobs="50")
    try:
        key = new_key(services.database_url, "sweeper")
        with services.client(key) as client:
            sweep = client.post(
                "/v1/sweeps",
                json={"base": TINY, "grid": {"batch_size": [8, 16]}, "seeds": [0, 1, 2, 3, 4], "max_parallel": 10},
            )
            assert sweep.status_code == 201, sweep.text
            assert sweep.json()["counts"]["queued"] == 10
            job = client.post("/v1/jobs", json=TINY)
            assert job.status_code == 201, job.text
            assert client.post(f"/v1/sweeps/{sweep.json()['id']}/cancel").status_code == 200
    finally:
        services.stop()
