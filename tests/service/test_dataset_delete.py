"""DELETE /v1/datasets/{id}: refused while an unfinished job trains on the upload, then the row and the
file go with the last principal's row that names the content (the data directory lists as before the
upload), a second delete is a 404, and another principal's upload is not the caller's to delete."""

from __future__ import annotations

from pathlib import Path

from tests.stack import Stack, finished, wait_for

# a table no other test uploads: its content-addressed file is this test's alone
CSV = "a,b,label\n" + "".join(f"{i * 0.37 % 5:.3f},{i * 1.91 % 7:.3f},{'yes' if i % 3 else 'no'}\n" for i in range(90))


def listing(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in (root / "datasets").rglob("*") if path.is_file()}


def test_deleting_an_upload_removes_its_row_and_file(stack: Stack) -> None:
    before = listing(stack.data_dir)
    with stack.client(stack.keys["alice"]) as client, stack.client(stack.keys["bob"]) as bob:
        uploaded = client.post(
            "/v1/datasets", files={"file": ("delete-me.csv", CSV.encode(), "text/csv")}, data={"target": "label"}
        )
        assert uploaded.status_code == 201, uploaded.text
        dataset_id = uploaded.json()["id"]
        assert f"datasets/{dataset_id}.npz" in listing(stack.data_dir) - before
        assert bob.delete(f"/v1/datasets/{dataset_id}").status_code == 404
        # bob uploads the same table: his own row, one file for both
        same = bob.post(
            "/v1/datasets", files={"file": ("mine.csv", CSV.encode(), "text/csv")}, data={"target": "label"}
        )
        assert same.status_code == 201 and same.json()["id"] == dataset_id

        spec = {"dataset": {"name": dataset_id}, "epochs": 5000, "diagnosis": {"probes": False}}
        job = client.post("/v1/jobs", json=spec).json()
        refused = client.delete(f"/v1/datasets/{dataset_id}")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "dataset_in_use" and job["id"] in refused.json()["error"]["message"]
        assert client.get(f"/v1/datasets/{dataset_id}").status_code == 200  # nothing removed

        client.post(f"/v1/jobs/{job['id']}/cancel")
        wait_for(client, job["id"], finished)
        deleted = client.delete(f"/v1/datasets/{dataset_id}")
        assert deleted.status_code == 204 and deleted.content == b""
        assert client.get(f"/v1/datasets/{dataset_id}").status_code == 404
        assert dataset_id not in {d["id"] for d in client.get("/v1/datasets").json()["data"]}
        assert client.delete(f"/v1/datasets/{dataset_id}").status_code == 404
        assert client.delete("/v1/datasets/iris").status_code == 404  # a shipped dataset is nobody's to delete
        assert f"datasets/{dataset_id}.npz" in listing(stack.data_dir)  # bob's row still names it
        assert bob.get(f"/v1/datasets/{dataset_id}").status_code == 200
        assert bob.delete(f"/v1/datasets/{dataset_id}").status_code == 204
    assert listing(stack.data_dir) == before
