"""A cancel the API accepted wins: a job asked to stop that never reads its flag again (here its heartbeat
interval is an hour, so the loop never polls it; in production, a cancel during the last epoch) still
ends `cancelled`, with the epochs it trained and its summary kept, never 200 `cancelling` then
`succeeded`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import Stack, finished, start_stack, stop_stack, wait_for

SPEC = {
    "dataset": {"name": "digits"},
    "model": {"hidden": [256, 256]},
    "batch_size": 16,
    "epochs": 4,
    "diagnosis": {"probes": False},
}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    running = start_stack(tmp_path, heartbeat_seconds="3600")
    running.keys["alice"] = (running.data_dir / "api_key").read_text().strip()
    try:
        yield running
    finally:
        stop_stack(running)


def test_a_cancel_the_loop_never_reads_still_ends_the_job_cancelled(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json=SPEC).json()
        wait_for(client, job["id"], lambda j: j["status"] == "running" and j["progress"]["epoch"] >= 1)
        asked = client.post(f"/v1/jobs/{job['id']}/cancel")
        assert asked.status_code == 200 and asked.json()["status"] == "cancelling", asked.text

        done = wait_for(client, job["id"], finished, timeout=120)
        assert done["status"] == "cancelled", (done, stack.log()[-3000:])
        assert done["summary"]["epochs_run"] == SPEC["epochs"], "the epochs it trained are kept"
        series = client.get(f"/v1/jobs/{job['id']}/metrics", params={"names": "train_loss"}).json()["series"]
        assert [p["epoch"] for p in series[0]["points"]] == list(range(1, SPEC["epochs"] + 1))
