"""Quotas, enforced with clear errors: model size (422), active jobs and submissions per
minute (429 with Retry-After), max epochs (422). An API with no worker keeps jobs queued."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.stack import Services, make_services, new_key

TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 1}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Services, httpx.Client]]:
    services = make_services(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'trainwell.sqlite'}",
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        max_model_parameters="5000",
        max_active_jobs="3",
        submissions_per_minute="4",
        max_epochs="50",
    )
    services.start_api()
    key = new_key(services.database_url, "quota-tester")
    try:
        with services.client(key) as client:
            yield services, client
    finally:
        services.stop()


def _count(client: httpx.Client) -> int:
    return len(client.get("/v1/jobs", params={"limit": 200}).json()["data"])


def test_limits_and_quotas(api: tuple[Services, httpx.Client]) -> None:
    _, client = api
    too_big = client.post("/v1/jobs", json={**TINY, "dataset": {"name": "digits"}, "model": {"hidden": [512]}})
    assert too_big.status_code == 422 and too_big.json()["error"]["code"] == "model_too_large"
    assert "38,410 parameters" in too_big.json()["error"]["message"]  # 64·512+512 + 512·10+10
    too_long = client.post("/v1/jobs", json={**TINY, "epochs": 51})
    assert too_long.status_code == 422 and "at most 50" in too_long.json()["error"]["message"]
    assert _count(client) == 0, "a refused job is not stored"

    for _ in range(3):
        assert client.post("/v1/jobs", json=TINY).status_code == 201
    busy = client.post("/v1/jobs", json=TINY)
    assert busy.status_code == 429 and busy.json()["error"]["code"] == "too_many_active_jobs"
    assert busy.headers["Retry-After"]

    first = client.get("/v1/jobs").json()["data"][0]
    assert client.post(f"/v1/jobs/{first['id']}/cancel").status_code == 200  # frees a slot
    assert client.post("/v1/jobs", json=TINY).status_code == 201  # the 4th submission this minute
    client.post(f"/v1/jobs/{first['id']}/cancel")
    for job in client.get("/v1/jobs", params={"status": "queued"}).json()["data"]:
        client.post(f"/v1/jobs/{job['id']}/cancel")
    limited = client.post("/v1/jobs", json=TINY)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert _count(client) == 4
