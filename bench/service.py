"""The service against its targets (BENCHMARKS.md): submit → running latency, and POST /v1/jobs throughput.

Runs the real `make run` process tree (tests/stack.py) in production mode (PostgreSQL +
Redis, a fresh database and Redis db) and in embedded mode. Latencies come from the
job rows' own timestamps (started_at − created_at, one clock), so polling does not add
to them. Throughput is measured beside a GET /healthz baseline at the same concurrency,
so the ratio shows what a submit costs over the bare HTTP stack on this machine.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.load import hammer, request_bytes
from tests.stack import (
    Stack,
    finished,
    make_services,
    new_key,
    postgres_database,
    redis_database,
    start_stack,
    stop_stack,
    wait_for,
)

RESULTS = Path(__file__).parent / "results" / "service.json"
# one epoch leaves the loss high: probes off, or every job would queue two more
TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 1, "diagnosis": {"probes": False}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def submit_to_running(stack: Stack, jobs: int) -> list[float]:
    """Seconds from submit to claim, one job at a time on an idle worker (its last job finished and diagnosed)."""
    latencies = []
    with stack.client(stack.keys["bench"]) as client:
        for _ in range(jobs):
            job = client.post("/v1/jobs", json=TINY).json()
            done = wait_for(client, job["id"], finished, timeout=60)
            # the worker diagnoses the job after it ends: wait until it is idle again
            while client.get(f"/v1/jobs/{job['id']}/diagnosis").json()["status"] != "ready":
                time.sleep(0.05)
            started = datetime.fromisoformat(done["started_at"])
            latencies.append((started - datetime.fromisoformat(done["created_at"])).total_seconds())
    return latencies


def _hammer(base_url: str, method: str, path: str, body: Any, keys: list[str], requests: int) -> dict[str, float]:
    """`requests` in all over one connection per key, each connection sending its share back to back.

    Each connection first makes a client's first contact, GET /v1/jobs?limit=1 (the API verifies its
    key; the connection is set up), timed apart as `first_contact_*`: the timed requests then start
    together, every client warm, as a steady stream of submissions from 16 clients would find them.
    """
    per_connection = []
    for key in keys:
        headers = {"Authorization": f"Bearer {key}"}
        first_contact = request_bytes("GET", base_url + "/v1/jobs?limit=1", None, headers)
        per_connection.append(
            [first_contact] + [request_bytes(method, base_url + path, body, headers)] * (requests // len(keys))
        )
    result = hammer(base_url, per_connection, warmup=1)
    return {
        "rps": len(result.latencies) / result.wall,
        "p50_ms": 1000 * percentile(result.latencies, 0.5),
        "p99_ms": 1000 * percentile(result.latencies, 0.99),
        "errors": result.errors,
        "requests": len(result.latencies),
        "first_contact_p50_ms": 1000 * percentile(result.warmup_latencies, 0.5),
        "first_contact_max_ms": 1000 * max(result.warmup_latencies),
    }


# Each client is its own principal, under the production quotas (100 active jobs, 120 submissions a
# minute): a round of ROUND_REQUESTS gives each of CLIENTS fresh principals 100 submissions, all accepted.
# Quotas are counted per principal and bounded by their limits, so this is what a submission costs in
# production. (One principal with the quotas lifted would make every submit count its whole backlog.)
CLIENTS = 16
ROUND_REQUESTS = 1600


def throughput(base_url: str, new_keys: Callable[[int], list[str]], rounds: int = 5) -> dict[str, Any]:
    """Interleave submit and healthz rounds; report the median of each and of the paired ratios."""
    _hammer(base_url, "POST", "/v1/jobs", TINY, new_keys(CLIENTS), ROUND_REQUESTS)  # warm-up: caches, pools
    posts, healths = [], []
    for _ in range(rounds):
        posts.append(_hammer(base_url, "POST", "/v1/jobs", TINY, new_keys(CLIENTS), ROUND_REQUESTS))
        healths.append(_hammer(base_url, "GET", "/healthz", None, new_keys(CLIENTS), ROUND_REQUESTS))
    median = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    return {
        "clients": CLIENTS,
        "post_rps": median(posts, "rps"),
        "post_p50_ms": median(posts, "p50_ms"),
        "post_p99_ms": median(posts, "p99_ms"),
        "post_errors": sum(r["errors"] for r in posts),
        "healthz_rps": median(healths, "rps"),
        "ratio_post_to_healthz_rps": statistics.median(
            p["rps"] / h["rps"] for p, h in zip(posts, healths, strict=True)
        ),
        "rounds": {"post": posts, "healthz": healths},
    }


# Production as deployed on this 2-core machine: one API process per core.
API_WORKERS = "2"


def principals(database_url: str) -> Callable[[int], list[str]]:
    """A maker of fresh principals' keys, n at a time."""
    made = 0

    def new_keys(n: int) -> list[str]:
        nonlocal made
        made += n
        return [new_key(database_url, f"bench-{i}") for i in range(made - n, made)]

    return new_keys


def measure(mode: str, jobs: int, with_throughput: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        if mode == "production":
            with postgres_database() as database_url, redis_database() as broker_url:
                stack = start_stack(
                    Path(tmp), database_url=database_url, broker_url=broker_url, api_workers=API_WORKERS
                )
                return _run(stack, jobs, with_throughput)
        return _run(start_stack(Path(tmp)), jobs, with_throughput)


def _run(stack: Stack, jobs: int, with_throughput: bool) -> dict[str, Any]:
    try:
        stack.keys["bench"] = stack.new_key("bench")
        latencies = submit_to_running(stack, jobs)
        result: dict[str, Any] = {
            "jobs": jobs,
            "submit_to_running_median_ms": 1000 * statistics.median(latencies),
            "submit_to_running_p99_ms": 1000 * percentile(latencies, 0.99),
        }
        if with_throughput:
            result["throughput"] = throughput(stack.base_url, principals(stack.database_url))
        return result
    finally:
        stop_stack(stack)


def api_alone() -> dict[str, Any]:
    """POST throughput of the API processes alone: production mode with no worker consuming, so the
    two cores are shared by the API, PostgreSQL, Redis and the load generator only (as on a host where
    the workers run elsewhere). The submitted jobs stay queued."""
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as database_url, redis_database() as broker_url:
        services = make_services(Path(tmp), database_url=database_url, broker_url=broker_url)
        services.start_api(workers=int(API_WORKERS))
        try:
            return throughput(services.base_url, principals(database_url))
        finally:
            services.stop()


def main() -> None:
    results = {
        "production": measure("production", jobs=100, with_throughput=True),
        "api_alone": {"throughput": api_alone()},
        "embedded": measure("embedded", jobs=20, with_throughput=False),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for mode, result in results.items():
        if "jobs" not in result:
            continue
        print(
            f"{mode:>10}: submit→running median {result['submit_to_running_median_ms']:.0f} ms, "
            f"p99 {result['submit_to_running_p99_ms']:.0f} ms over {result['jobs']} jobs"
        )
    for what, mode in (("worker training beside", "production"), ("API alone", "api_alone")):
        t = results[mode]["throughput"]
        print(
            f"POST /v1/jobs at {t['clients']} clients, {what}: {t['post_rps']:.0f} req/s, p50 {t['post_p50_ms']:.1f} ms, "
            f"p99 {t['post_p99_ms']:.1f} ms, {t['post_errors']} errors; healthz {t['healthz_rps']:.0f} req/s "
            f"(submit/healthz {t['ratio_post_to_healthz_rps']:.2f}×)"
        )


if __name__ == "__main__":
    main()
