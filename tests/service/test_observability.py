"""/metrics in Prometheus format: HTTP latency by route, jobs by status, worker counters."""

from __future__ import annotations

import re

from tests.stack import Stack, finished, wait_for


def _value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    assert match, f"{sample} not in /metrics"
    return float(match.group(1))


def test_metrics_show_jobs_routes_and_worker_counters(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json={"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 1}).json()
        wait_for(client, job["id"], finished)
        client.get(f"/v1/jobs/{job['id']}")
        text = client.get("/metrics").text
    assert _value(text, 'trainwell_jobs{status="succeeded"}') >= 1
    assert _value(text, 'trainwell_jobs{status="queued"}') >= 0
    assert _value(text, "trainwell_oldest_queued_job_age_seconds") >= 0
    assert _value(text, "trainwell_job_duration_seconds_count") >= 1
    assert _value(text, "trainwell_reaper_requeued_total") >= 0
    assert _value(text, "trainwell_metric_write_retries_total") >= 0
    assert 'handler="/v1/jobs/{job_id}"' in text, "latency is labelled by route template, not by raw path"
    assert job["id"] not in text, "no job ids (or other per-job data) in the scrape"


def test_cors_is_off_by_default(stack: Stack) -> None:
    with stack.client() as client:
        preflight = client.options(
            "/v1/jobs", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in preflight.headers
