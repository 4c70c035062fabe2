"""Metric rows the database refuses for good — not a lost connection, which is retried — fail the job
with reason metrics_unwritten: it never ends `succeeded` with epochs missing from its history. Real
processes on a PostgreSQL database of the test's own, which is made to refuse epoch 3's rows by a CHECK
constraint added after migration (the shape of a constraint, trigger or permission the rows meet)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from store.db import make_engine
from tests.stack import Services, fault_services, finished, new_key, wait_for

SPEC = {"dataset": {"name": "digits"}, "model": {"hidden": [32]}, "epochs": 5, "diagnosis": {"probes": False}}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with fault_services(tmp_path) as running:
        yield running


def test_rows_the_database_refuses_fail_the_job_with_the_reason(services: Services) -> None:
    engine = make_engine(services.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE metrics ADD CONSTRAINT refuses_epoch_3 CHECK (epoch < 3) NOT VALID"))
    finally:
        engine.dispose()
    services.start_worker()
    with services.client(new_key(services.database_url, "refused-rows")) as client:
        job = client.post("/v1/jobs", json=SPEC).json()
        ended = wait_for(client, job["id"], finished, timeout=180)
        assert ended["status"] == "failed", ended
        assert ended["error"]["reason"] == "metrics_unwritten", ended["error"]
        assert "refuses_epoch_3" in ended["error"]["message"], ended["error"]
        series = client.get(f"/v1/jobs/{job['id']}/metrics", params={"names": "train_loss"}).json()
        epochs = sorted(point["epoch"] for s in series["series"] for point in s["points"])
        assert epochs == [1, 2], epochs  # what was written, and nothing claimed beyond it
        assert ended["attempt"] == 1, "refused rows are not retried by another attempt"
