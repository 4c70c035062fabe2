"""GET /v1/usage and TRAINWELL_MAX_STORED_BYTES: a principal's uploads, checkpoints and exports are counted
once written and freed once deleted, only for their principal; /metrics exports the totals; past the
limit an upload is refused with 413 and a job with 429, each naming the usage and the limit, nothing stored."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sdk.test_cli import as_json, trainwell
from tests.service.test_model_download import download
from tests.stack import Stack, finished, poll, start_stack, stop_stack, wait_for
from trainwell import Client

NOTHING = {"uploads": 0, "checkpoints": 0, "exports": 0, "predictions": 0}
JOB_WAIT = 600  # the suite's shared worker may be busy with earlier tests' jobs


def table(rows: int, salt: str) -> bytes:
    """A CSV of three features and string labels; `salt` keeps its content (its file) this test's alone."""
    lines = [
        f"{i * 0.37 % 5:.3f},{i * 1.91 % 7:.3f},{len(salt) + i % 11},{'yes' if i % 3 else 'no'}" for i in range(rows)
    ]
    return ("f1,f2,f3,label\n" + "\n".join(lines) + f"\n{len(salt)}.5,0,{sum(map(ord, salt))},no\n").encode()


def upload(client: httpx.Client, content: bytes) -> httpx.Response:
    return client.post("/v1/datasets", files={"file": ("t.csv", content, "text/csv")}, data={"target": "label"})


def usage(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/v1/usage")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def checkpoint_files_bytes(data_dir: Path, job_id: str) -> int:
    """What a job's directory holds that counts as checkpoints: its attempts' checkpoints and model file."""
    folder = data_dir / "checkpoints" / job_id
    return sum(
        p.stat().st_size for p in folder.iterdir() if p.name.startswith("attempt-") or p.name == "model.safetensors"
    )


def stored_metric(text: str, kind: str) -> float:
    match = re.search(rf'^trainwell_stored_bytes{{kind="{kind}"}} (\S+)$', text, re.MULTILINE)
    assert match, f"trainwell_stored_bytes{{kind={kind!r}}} not in /metrics"
    return float(match.group(1))


def spec_on(dataset_id: str, epochs: int = 3) -> dict[str, Any]:
    return {"dataset": {"name": dataset_id}, "model": {"hidden": [8]}, "epochs": epochs, "diagnosis": {"probes": False}}


def test_usage_counts_what_is_stored_and_frees_it_on_delete(stack: Stack) -> None:
    key = stack.new_key("usage-counter")
    with stack.client(key) as client, stack.client(stack.keys["alice"]) as alice:
        empty = usage(client)
        assert empty["bytes"] == {"by_kind": NOTHING, "total": 0}
        assert empty["jobs"]["total"] == 0 and empty["jobs"]["active"] == 0
        assert set(empty["jobs"]["by_status"]) >= {"queued", "running", "succeeded", "failed", "cancelled"}
        assert empty["quotas"]["max_active_jobs"] == {"limit": 100, "used": 0, "left": 100}
        assert empty["quotas"]["submissions_per_minute"] == {"limit": 120, "used": 0, "left": 120}
        assert empty["quotas"]["max_stored_bytes"] == {"limit": None, "used": 0, "left": None}
        alice_before = usage(alice)["bytes"]

        uploaded = upload(client, table(80, "usage-counter"))
        assert uploaded.status_code == 201, uploaded.text
        dataset = uploaded.json()
        on_disk = (stack.data_dir / "datasets" / f"{dataset['id']}.npz").stat().st_size
        assert dataset["bytes"] == on_disk
        assert usage(client)["bytes"]["by_kind"] == {**NOTHING, "uploads": on_disk}

        job = client.post("/v1/jobs", json=spec_on(dataset["id"])).json()
        assert usage(client)["quotas"]["submissions_per_minute"]["used"] == 1
        assert wait_for(client, job["id"], finished, timeout=JOB_WAIT)["status"] == "succeeded"
        checkpoints = checkpoint_files_bytes(stack.data_dir, job["id"])
        assert checkpoints > 0
        counted = poll(
            lambda: usage(client),
            lambda u: u["bytes"]["by_kind"]["checkpoints"] == checkpoints,
            "the job's checkpoint bytes were never counted",
            timeout=60,
            every=0.2,
        )
        assert counted["jobs"]["by_status"]["succeeded"] == 1 and counted["jobs"]["total"] == 1

        onnx = download(client, job["id"], "onnx")
        assert onnx.status_code == 200, onnx.text
        assert download(client, job["id"], "safetensors").status_code == 200  # the model file: no new bytes
        after_exports = usage(client)
        assert after_exports["bytes"]["by_kind"] == {
            **NOTHING,
            "uploads": on_disk,
            "checkpoints": checkpoints,
            "exports": len(onnx.content),
        }
        assert after_exports["bytes"]["total"] == on_disk + checkpoints + len(onnx.content)
        assert usage(alice)["bytes"] == alice_before  # scoped to the caller

        text = client.get("/metrics").text
        for kind, size in after_exports["bytes"]["by_kind"].items():
            assert stored_metric(text, kind) >= size

        assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
        freed = usage(client)
        assert freed["bytes"]["by_kind"] == {**NOTHING, "uploads": on_disk} and freed["jobs"]["total"] == 0
        assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 204
        assert usage(client)["bytes"] == {"by_kind": NOTHING, "total": 0}

    with Client(base_url=stack.base_url, api_key=key) as sdk:
        read = sdk.usage()
        assert read.bytes.total == 0 and read.quotas.max_stored_bytes.limit is None and read.jobs.total == 0
    shown = trainwell(stack, "usage", key=key)
    assert (
        shown.returncode == 0 and "stored bytes: 0 (uploads 0, checkpoints 0, exports 0, predictions 0)" in shown.stdout
    ), shown
    assert as_json(trainwell(stack, "usage", "--json", key=key))["quotas"]["max_active_jobs"]["left"] == 100


CAP = 4000  # bytes: one small upload fits; a job's first checkpoint (its RNG states alone are 5 KB) does not


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Stack]:
    """A stack of its own, with the limit, on embedded SQLite."""
    running = start_stack(tmp_path, max_stored_bytes=str(CAP))
    try:
        yield running
    finally:
        stop_stack(running)


def dataset_files(data_dir: Path) -> set[str]:
    folder = data_dir / "datasets"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_past_the_stored_bytes_limit_uploads_are_413_and_jobs_429(capped: Stack) -> None:
    key = capped.new_key("usage-capped")
    with capped.client(key) as client:
        small = upload(client, table(60, "capped-a"))
        assert small.status_code == 201, small.text
        too_big = upload(client, table(400, "capped-big"))  # 400 rows × (3 × 4 + 8) bytes: past what is left
        assert too_big.status_code == 413, too_big.text
        error = too_big.json()["error"]
        assert error["code"] == "stored_bytes_exceeded" and str(CAP) in error["message"]
        assert error["details"]["stored_bytes"] == small.json()["bytes"] and error["details"]["max_stored_bytes"] == CAP
        assert dataset_files(capped.data_dir) == {f"{small.json()['id']}.npz"}  # nothing written

        # under the limit a job is taken, and its checkpoints take the principal past it
        job = client.post("/v1/jobs", json=spec_on(small.json()["id"], epochs=2)).json()
        assert wait_for(client, job["id"], finished, timeout=300)["status"] == "succeeded"
        over = poll(
            lambda: usage(client),
            lambda u: u["bytes"]["by_kind"]["checkpoints"] > 0,
            "the job's checkpoints were never counted",
            timeout=60,
            every=0.2,
        )
        used = over["bytes"]["total"]
        assert used > CAP and over["quotas"]["max_stored_bytes"] == {"limit": CAP, "used": used, "left": 0}
        text = client.get("/metrics").text  # one principal here: the totals are its own
        assert all(stored_metric(text, kind) == size for kind, size in over["bytes"]["by_kind"].items())

        refused = client.post("/v1/jobs", json=spec_on(small.json()["id"], epochs=1))
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        error = refused.json()["error"]
        assert error["code"] == "stored_bytes_exceeded" and str(used) in error["message"]
        assert error["details"] == {"stored_bytes": used, "max_stored_bytes": CAP}
        sweep = {"base": spec_on(small.json()["id"], epochs=1), "grid": {"optimizer.lr": [0.01]}, "seeds": [0]}
        assert client.post("/v1/sweeps", json=sweep).status_code == 429
        assert upload(client, table(5, "capped-tiny")).status_code == 413
        assert usage(client)["jobs"]["total"] == 1  # no row for a refused job
        assert dataset_files(capped.data_dir) == {f"{small.json()['id']}.npz"}

        # deleting the job frees its bytes: jobs and small uploads are taken again
        assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
        assert usage(client)["bytes"]["total"] == small.json()["bytes"] < CAP
        assert upload(client, table(5, "capped-tiny")).status_code == 201
        again = client.post("/v1/jobs", json=spec_on(small.json()["id"], epochs=1))
        assert again.status_code == 201, again.text
        wait_for(client, again.json()["id"], finished, timeout=300)
    shown = trainwell(capped, "usage", key=key)
    assert shown.returncode == 0 and "max_stored_bytes" in shown.stdout and f"{CAP:,}" in shown.stdout, shown
