"""Probe runs over the real service: a job whose training loss is high gets a shallower
and a bigger child job; their training losses decide between an optimization problem and model bias."""

from __future__ import annotations

import threading
from typing import Any

import httpx

import trainwell
from tests.specs import LINEAR_ON_CIRCLES
from tests.stack import Stack, finished, wait_for, wait_for_diagnosis

DEEP_SIGMOID = {
    "name": "deep-sigmoid",
    "dataset": {"name": "digits"},
    "model": {"hidden": [64] * 6, "activation": "sigmoid"},
    "optimizer": {"name": "sgd", "lr": 0.01},
    "epochs": 8,
}


def _diagnosis(client: httpx.Client, job_id: str, statuses: set[str], timeout: float = 180) -> dict[str, Any]:
    return wait_for_diagnosis(client, job_id, statuses, timeout)  # probes take longer: a longer default


def _follow(stack: Stack, job_id: str, into: list[trainwell.DiagnosisEvent]) -> None:
    with trainwell.Client(base_url=stack.base_url, api_key=stack.keys["alice"]) as sdk:
        into.extend(e for e in sdk.jobs.events(job_id) if isinstance(e, trainwell.DiagnosisEvent))


def _probe_jobs(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    children = client.get("/v1/jobs", params={"parent_id": job_id}).json()["data"]
    return [child for child in children if child["origin"] == "probe"]


def test_a_deep_sigmoid_net_at_chance_is_optimization_because_its_shallow_probe_trains(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json=DEEP_SIGMOID).json()
        streamed: list[trainwell.DiagnosisEvent] = []
        follower = threading.Thread(target=_follow, args=(stack, job["id"], streamed))
        follower.start()
        wait_for(client, job["id"], finished)
        first = _diagnosis(client, job["id"], {"running_probes", "ready"})
        probes = _probe_jobs(client, job["id"])
        assert sorted(p["name"] for p in probes) == ["bigger probe of deep-sigmoid", "easier probe of deep-sigmoid"]
        by_kind = {p["name"].split()[0]: p for p in probes}
        easier = by_kind["easier"]["spec"]
        assert easier["model"]["hidden"] == [64] and easier["model"]["activation"] == "relu"
        assert easier["model"]["norm"] == "batch" and easier["optimizer"]["name"] == "adam"
        assert not easier["diagnosis"]["probes"] and easier["dataset"] == job["spec"]["dataset"]
        assert {p["id"] for p in probes} == {p["job_id"] for p in first["probes"]}

        settled = _diagnosis(client, job["id"], {"ready"})
        assert settled["verdict"] == "optimization", settled["summary"]
        # the live stream sent the provisional diagnosis, then the settled one, and ended
        follower.join(timeout=30)
        assert [e.diagnosis.status for e in streamed] == ["running_probes", "ready"], streamed
        assert streamed[-1].diagnosis.verdict == "optimization"
        primary = settled["findings"][0]
        assert primary["code"] == "easier_probe_fits_better", settled["findings"]
        assert primary["evidence"]["probe_job_id"] == by_kind["easier"]["id"]
        assert primary["evidence"]["probe_train_loss"] < 0.9 * primary["evidence"]["original_train_loss"]
        assert all(p["status"] == "succeeded" and p["train_loss"] is not None for p in settled["probes"])
        assert "probe" in settled["summary"]
        # a probe is a job like any other, with its own diagnosis, and never probes itself
        for probe in probes:
            assert _diagnosis(client, probe["id"], {"ready"})["probes"] == []
            assert _probe_jobs(client, probe["id"]) == []


def test_a_linear_model_on_circles_is_model_bias_because_only_the_bigger_probe_fits(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        job = client.post("/v1/jobs", json=LINEAR_ON_CIRCLES).json()
        wait_for(client, job["id"], finished)
        settled = _diagnosis(client, job["id"], {"ready"})
        assert settled["verdict"] == "model_bias", settled["summary"]
        assert settled["findings"][0]["code"] == "bigger_probe_fits_better", settled["findings"]
        bigger = next(p for p in settled["probes"] if p["kind"] == "bigger")
        assert bigger["train_loss"] < 0.5 * bigger["original_train_loss"]
        remedy = settled["findings"][0]["remedies"][0]
        launched = client.post(f"/v1/jobs/{job['id']}/remedies/bigger_probe_fits_better").json()
        assert (
            launched["origin"] == "remedy"
            and launched["spec"]["model"]["hidden"] == remedy["spec_patch"]["model"]["hidden"]
        )
        client.post(f"/v1/jobs/{launched['id']}/cancel")


def test_a_spec_can_turn_probes_off_and_cancelled_probes_never_hold_the_verdict(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        off = client.post("/v1/jobs", json={**LINEAR_ON_CIRCLES, "diagnosis": {"probes": False}}).json()
        on = client.post("/v1/jobs", json=LINEAR_ON_CIRCLES).json()
        wait_for(client, off["id"], finished)
        unprobed = _diagnosis(client, off["id"], {"running_probes", "ready"})
        assert unprobed["status"] == "ready" and unprobed["probes"] == [] and _probe_jobs(client, off["id"]) == []
        assert unprobed["verdict"] == "model_bias"  # the rules alone: a small model that converged

        wait_for(client, on["id"], finished)
        _diagnosis(client, on["id"], {"running_probes", "ready"})
        for probe in _probe_jobs(client, on["id"]):  # queued ones end at once, a running one at its next step
            assert client.post(f"/v1/jobs/{probe['id']}/cancel").status_code == 200
        settled = _diagnosis(client, on["id"], {"ready"}, timeout=60)
        assert all(p["status"] in {"cancelled", "succeeded"} for p in settled["probes"]), settled["probes"]
        assert settled["verdict"] in {"model_bias"}, settled["summary"]
