"""Every job gets a stored diagnosis when it ends, served over HTTP, private to its owner."""

from __future__ import annotations

from tests.specs import LINEAR_ON_CIRCLES
from tests.stack import Stack, finished, wait_for, wait_for_diagnosis

VERDICTS = {"good_fit", "model_bias", "optimization", "overfitting", "mismatch", "diverged"}


def test_diagnoses_name_the_verdict_with_evidence_and_remedies(stack: Stack) -> None:
    exploding = {
        "name": "explodes",
        "dataset": {"name": "diabetes", "feature_norm": "none"},
        "model": {"hidden": [32]},
        "optimizer": {"name": "sgd", "lr": 10.0},
        "epochs": 20,
    }
    with stack.client(stack.keys["alice"]) as client, stack.client(stack.keys["bob"]) as bob:
        linear = client.post("/v1/jobs", json=LINEAR_ON_CIRCLES).json()
        diverging = client.post("/v1/jobs", json=exploding).json()
        pending = client.get(f"/v1/jobs/{linear['id']}/diagnosis").json()
        assert pending["status"] in {"pending", "ready"}
        assert bob.get(f"/v1/jobs/{linear['id']}/diagnosis").status_code == 404

        wait_for(client, linear["id"], finished)
        verdict = wait_for_diagnosis(client, linear["id"])
        assert verdict["verdict"] == "model_bias", verdict
        assert verdict["summary"] and verdict["findings"], verdict
        primary = verdict["findings"][0]
        assert primary["evidence"] and primary["explanation"] and primary["severity"] in {"info", "warning", "critical"}
        assert any(r["spec_patch"] for f in verdict["findings"] for r in f["remedies"]), "a remedy to launch"
        assert verdict["curvature"] is not None
        assert verdict["confidence"]["level"] in {"high", "medium", "low"} and verdict["confidence"]["margin"]
        decomposition = verdict["decomposition"]
        assert decomposition["train_loss"] > 0 and decomposition["generalization_gap"]["standard_error"] > 0

        wait_for(client, diverging["id"], finished)
        assert wait_for_diagnosis(client, diverging["id"])["verdict"] == "diverged"
        for job_id in (linear["id"], diverging["id"]):
            served = wait_for_diagnosis(client, job_id)
            assert served["verdict"] in VERDICTS and served["confidence"]["level"] in {"high", "medium", "low"}


def test_a_remedy_launches_the_linked_job_and_the_diagnosis_reports_how_it_did(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client, stack.client(stack.keys["bob"]) as bob:
        original = client.post("/v1/jobs", json=LINEAR_ON_CIRCLES).json()
        early = client.post(f"/v1/jobs/{original['id']}/remedies/high_train_loss")
        assert early.status_code in {404, 409}  # no diagnosis yet, or (if fast) no such finding
        wait_for(client, original["id"], finished)
        diagnosis = wait_for_diagnosis(client, original["id"])
        finding = next(f for f in diagnosis["findings"] if f["remedies"])
        remedy = finding["remedies"][0]

        assert bob.post(f"/v1/jobs/{original['id']}/remedies/{finding['code']}").status_code == 404
        missing = client.post(f"/v1/jobs/{original['id']}/remedies/no_such_finding")
        assert missing.status_code == 404 and finding["code"] in missing.json()["error"]["message"]

        launched = client.post(f"/v1/jobs/{original['id']}/remedies/{finding['code']}")
        assert launched.status_code == 201, launched.text
        child = launched.json()
        assert child["parent_id"] == original["id"] and child["origin"] == "remedy" and child["name"] == remedy["title"]
        for key, value in remedy["spec_patch"].items():
            if isinstance(value, dict):
                assert all(child["spec"][key][k] == v for k, v in value.items() if v is not None), key
            elif value is not None:
                assert child["spec"][key] == value, key
        listed = client.get("/v1/jobs", params={"parent_id": original["id"]}).json()["data"]
        assert [j["id"] for j in listed if j["origin"] == "remedy"] == [child["id"]]  # beside its probe jobs

        wait_for(client, child["id"], finished)
        remedy_jobs = wait_for_diagnosis(client, original["id"])["remedy_jobs"]
        assert len(remedy_jobs) == 1 and remedy_jobs[0]["job_id"] == child["id"]
        assert remedy_jobs[0]["before"] is not None and remedy_jobs[0]["after"] is not None
        assert remedy_jobs[0]["metric"] == "train_loss"  # model bias is about the training loss
