"""POST /v1/jobs/{id}/remedies/{code} honours `Idempotency-Key` as POST /v1/jobs does: a retried
launch answers the job the first one made, so a client's retry never runs a remedy twice."""

from __future__ import annotations

import secrets

import pytest

from tests.specs import LINEAR_ON_CIRCLES
from tests.stack import Stack, finished, wait_for, wait_for_diagnosis

pytestmark = pytest.mark.service


def test_two_launches_with_one_key_make_one_job(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        original = client.post("/v1/jobs", json=LINEAR_ON_CIRCLES).json()
        wait_for(client, original["id"], finished)
        finding = next(f for f in wait_for_diagnosis(client, original["id"])["findings"] if f["remedies"])
        url = f"/v1/jobs/{original['id']}/remedies/{finding['code']}"
        key = {"Idempotency-Key": f"remedy-{secrets.token_hex(8)}"}

        first = client.post(url, headers=key)
        assert first.status_code == 201, first.text
        assert "Idempotent-Replayed" not in first.headers
        retried = client.post(url, headers=key)
        assert retried.status_code == 201, retried.text
        assert retried.json()["id"] == first.json()["id"] and retried.headers["Idempotent-Replayed"] == "true"

        children = client.get("/v1/jobs", params={"parent_id": original["id"]}).json()["data"]
        assert [j["id"] for j in children if j["origin"] == "remedy"] == [first.json()["id"]]

        # the key is the principal's, as on POST /v1/jobs: used for another spec, it is a conflict
        other = client.post("/v1/jobs", json={**LINEAR_ON_CIRCLES, "epochs": 2}, headers=key)
        assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict", other.text
        client.post(f"/v1/jobs/{first.json()['id']}/cancel")
