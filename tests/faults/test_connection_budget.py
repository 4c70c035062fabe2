"""A burst on two API processes and a worker stays within PostgreSQL's max_connections: every pool
is capped from the settings (store/db.py, docs/configuration.md "Database connections"), so requests
past a pool wait for a connection instead of opening one the server refuses with "too many clients"
(each of which was a 503 to a client while the database was healthy). The test makes its own cluster
with a small max_connections; the shared server is never reconfigured."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.servers import postgres_cluster
from tests.stack import make_services, new_key, redis_database

MAX_CONNECTIONS = 30
API_PROCESSES, API_CONNECTIONS = 2, 10
WORKERS, WORKER_CONNECTIONS = 1, 2
# the formula of docs/configuration.md: API processes × api + workers × 3 × worker
BUDGET = API_PROCESSES * API_CONNECTIONS + WORKERS * 3 * WORKER_CONNECTIONS
TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 1}
REQUESTS, CONCURRENCY = 600, 120


@contextmanager
def peak_connections(admin_url: str, database: str) -> Iterator[list[int]]:
    """The most backends connected to `database` at once, sampled every 10 ms (read when the block ends)."""
    import psycopg

    peak, stop = [0], threading.Event()

    def sample() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            while not stop.wait(0.01):
                row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)).fetchone()
                peak[0] = max(peak[0], row[0] if row else 0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join(timeout=10)


async def burst(base_url: str, keys: list[str], job_id: str) -> Counter[tuple[str, int]]:
    """REQUESTS requests, CONCURRENCY at a time: submissions, listings, a job and the datasets, by several principals."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    statuses: Counter[tuple[str, int]] = Counter()
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def one(n: int) -> None:
            headers = {"Authorization": f"Bearer {keys[n % len(keys)]}"}
            kind = ("submit", "list", "job", "datasets")[n % 4]
            async with gate:
                if kind == "submit":
                    response = await client.post("/v1/jobs", json=TINY, headers=headers)
                elif kind == "list":
                    response = await client.get("/v1/jobs", params={"limit": 100}, headers=headers)
                elif kind == "job":  # another principal's job is a 404, still a query
                    response = await client.get(f"/v1/jobs/{job_id}", headers=headers)
                else:
                    response = await client.get("/v1/datasets", headers=headers)
            statuses[(kind, response.status_code)] += 1

        await asyncio.gather(*(one(n) for n in range(REQUESTS)))
    return statuses


def test_a_burst_on_two_api_processes_and_a_worker_stays_within_max_connections(tmp_path: Path) -> None:
    assert BUDGET < MAX_CONNECTIONS, "the settings below must fit the cluster by the documented formula"
    with postgres_cluster(max_connections=str(MAX_CONNECTIONS)) as cluster, redis_database() as broker_url:
        database_url = cluster.create_database("trainwell")
        services = make_services(
            tmp_path,
            database_url=database_url,
            broker_url=broker_url,
            api_database_connections=str(API_CONNECTIONS),
            worker_database_connections=str(WORKER_CONNECTIONS),
            max_active_jobs="100000",
            submissions_per_minute="100000",
        )
        try:
            services.start_api(workers=API_PROCESSES)
            services.start_worker()
            keys = [new_key(database_url, f"burst-{n}") for n in range(4)]
            with services.client(keys[0]) as client:
                first = client.post("/v1/jobs", json=TINY)
                assert first.status_code == 201, first.text
            with peak_connections(cluster.admin_url(), "trainwell") as peak:
                statuses = asyncio.run(burst(services.base_url, keys, first.json()["id"]))
            refused = {kind: n for kind, n in statuses.items() if kind[1] >= 500}
            assert not refused, f"{refused} of {REQUESTS} requests failed; all: {dict(statuses)}"
            assert sum(statuses.values()) == REQUESTS
            assert statuses[("submit", 201)] == REQUESTS // 4, dict(statuses)
            log = cluster.log()
            assert "too many clients" not in log, log[-3000:]
            assert peak[0] <= BUDGET, f"{peak[0]} connections at once; the settings allow {BUDGET}"
        finally:
            services.stop()
