"""GET /metrics in Prometheus format.

HTTP latency by route comes from prometheus-fastapi-instrumentator. Everything about
jobs is read from the database at scrape time, because the database is the truth and
workers expose no port: jobs by status, the age of the oldest queued job (a stuck
queue), jobs on a second or later attempt (a crash loop), finished jobs' durations,
the bytes stored on disk by kind, and the counters workers keep (reaper actions, metric-write retries).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from fastapi import FastAPI
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator

from store.counters import COUNTERS, read_counters
from store.db import session_factory
from store.job_stats import job_stats
from store.models import utcnow
from store.stored_bytes import total_stored_bytes
from trainwell.job import JobStatus

DURATION_WINDOW = timedelta(hours=1)
# every principal's together: a label per principal would grow the series with the users
STORED_BYTES_HELP = "bytes stored on disk for all principals, by kind (uploads, checkpoints, exports)"


class JobsCollector(Collector):
    def describe(self) -> Iterator[Metric]:
        """The families without values: registering must not touch the database."""
        yield GaugeMetricFamily("trainwell_jobs", "jobs by status", labels=["status"])
        yield GaugeMetricFamily("trainwell_oldest_queued_job_age_seconds", "how long the oldest queued job has waited")
        yield GaugeMetricFamily("trainwell_jobs_retried", "jobs on a second or later attempt", labels=["status"])
        yield SummaryMetricFamily("trainwell_job_duration_seconds", "run time of jobs finished in the last hour")
        yield GaugeMetricFamily("trainwell_stored_bytes", STORED_BYTES_HELP, labels=["kind"])
        for name, help_text in COUNTERS.items():
            yield CounterMetricFamily(f"trainwell_{name}", help_text)

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with session_factory()() as session:
            stats = job_stats(session=session, finished_since=now - DURATION_WINDOW)
            counters = read_counters(session=session)
            stored = total_stored_bytes(session=session)

        jobs = GaugeMetricFamily("trainwell_jobs", "jobs by status", labels=["status"])
        for status in JobStatus:
            jobs.add_metric([status.value], stats.by_status.get(status.value, 0))
        yield jobs
        age = (now - stats.oldest_queued).total_seconds() if stats.oldest_queued is not None else 0.0
        yield GaugeMetricFamily(
            "trainwell_oldest_queued_job_age_seconds", "how long the oldest queued job has waited", value=age
        )
        retries = GaugeMetricFamily(
            "trainwell_jobs_retried", "jobs on a second or later attempt, by status", labels=["status"]
        )
        for retried_status, count in stats.retried:
            retries.add_metric([retried_status], count)
        yield retries
        yield SummaryMetricFamily(
            "trainwell_job_duration_seconds",
            "run time of the jobs that finished in the last hour",
            count_value=len(stats.durations),
            sum_value=sum(stats.durations),
        )
        stored_bytes = GaugeMetricFamily("trainwell_stored_bytes", STORED_BYTES_HELP, labels=["kind"])
        for kind, size in stored.items():
            stored_bytes.add_metric([kind], size)
        yield stored_bytes
        for name, value in counters.items():
            yield CounterMetricFamily(f"trainwell_{name}", COUNTERS[name], value=value)


_collector = JobsCollector()


def install_metrics(app: FastAPI) -> None:
    if _collector not in REGISTRY._collector_to_names:  # one registration per process
        REGISTRY.register(_collector)
    Instrumentator(excluded_handlers=["/metrics", "/healthz", "/readyz"]).instrument(app).expose(
        app, endpoint="/metrics", include_in_schema=False, tags=["health"]
    )
