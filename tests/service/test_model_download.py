"""A job trained on an uploaded CSV with string labels, downloaded in every format and run without trainwell:
each file, loaded in a virtualenv that holds only torch (or only onnxruntime and numpy), reproduces the test
accuracy the job reported from the job's raw test rows, and answers in the uploaded labels."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

import trainwell
from tests.isolated_venv import make_isolated_venv
from tests.stack import Stack, finished, wait_for
from trainer.datasets import load_dataset
from trainer.splits import fold_data
from trainwell.spec import JobSpec

FEATURES = ["sepal length", "sepal width", "petal length", "petal width"]
LABELS = ["setosa", "versicolor", "virginica"]


def iris_csv() -> bytes:
    X, y = load_iris(return_X_y=True)
    lines = [",".join([*FEATURES, "species"])]
    lines += [",".join([*(f"{value:g}" for value in row), LABELS[label]]) for row, label in zip(X, y, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def download(client: httpx.Client, job_id: str, export_format: str, timeout: float = 120.0) -> httpx.Response:
    """GET the model, waiting through the 202s a worker answers while it makes the file."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/jobs/{job_id}/model", params={"format": export_format})
        if response.status_code != 202:
            return response
        assert int(response.headers["retry-after"]) >= 1
        assert time.monotonic() < deadline, f"{export_format} not exported within {timeout} s"
        time.sleep(0.3)


# Run in the isolated virtualenvs, from an empty folder: `python -c` puts the working directory first on
# sys.path, and the repository's own packages must not be found there.
TORCH_PROGRAM = r"""
import json, struct, sys
import torch
rows, truth, folder = json.load(open("rows.json")), json.load(open("truth.json")), sys.argv[1]
raw = torch.tensor(rows, dtype=torch.float32)

program = torch.export.load(folder + "/model.pt2").module()
pt2 = (program(raw).argmax(1) == torch.tensor(truth)).float().mean().item()

# the safetensors file read with torch alone: its header says how to use the weights
data = open(folder + "/model.safetensors", "rb").read()
(length,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8 : 8 + length])
meta = {key: value if key in ("format", "spec") else json.loads(value) for key, value in header.pop("__metadata__").items()}
dtypes = {"F32": torch.float32, "I64": torch.int64}
weights = {
    name: torch.frombuffer(bytearray(data[8 + length + info["data_offsets"][0] : 8 + length + info["data_offsets"][1]]),
                           dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    for name, info in header.items()
}
hidden = json.loads(meta["spec"])["model"]["hidden"][0]
net = torch.nn.Sequential(torch.nn.Linear(meta["shape"]["input"], hidden), torch.nn.BatchNorm1d(hidden), torch.nn.ReLU(),
                          torch.nn.Linear(hidden, meta["shape"]["output"]))
net.load_state_dict(weights)
net.eval()
norm = meta["normalization"]
shift, scale = torch.tensor(norm["shift"], dtype=torch.float32), torch.tensor(norm["scale"], dtype=torch.float32)
with torch.no_grad():
    st = (net((raw - shift) / scale).argmax(1) == torch.tensor(truth)).float().mean().item()
    predicted = program(raw[:3]).argmax(1).tolist()
print(json.dumps({"pt2": pt2, "safetensors": st, "features": meta["features"], "labels": meta["labels"],
                  "predicted": [meta["labels"][i] for i in predicted], "epoch": meta["epoch"]}))
"""

ONNX_PROGRAM = r"""
import json, sys
import numpy as np
import onnxruntime
rows, truth = np.array(json.load(open("rows.json")), dtype=np.float32), np.array(json.load(open("truth.json")))
session = onnxruntime.InferenceSession(sys.argv[1] + "/model.onnx", providers=["CPUExecutionProvider"])
(logits,) = session.run(None, {session.get_inputs()[0].name: rows})
print(json.dumps({"onnx": float((logits.argmax(1) == truth).mean())}))
"""


def run_isolated(python: Path, program: str, folder: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-c", program, str(folder)], cwd=folder, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_trained_model_downloads_in_every_format_and_runs_without_trainwell(stack: Stack, tmp_path: Path) -> None:
    with stack.client(stack.keys["alice"]) as client, stack.client(stack.keys["bob"]) as bob:
        uploaded = client.post(
            "/v1/datasets", files={"file": ("iris.csv", iris_csv(), "text/csv")}, data={"target": "species"}
        )
        assert uploaded.status_code == 201, uploaded.text
        dataset = uploaded.json()
        spec = {
            "name": "iris-download",
            "dataset": {"name": dataset["id"], "feature_norm": "standard"},
            "model": {"hidden": [16], "norm": "batch"},
            "optimizer": {"name": "adam", "lr": 0.03},
            "epochs": 25,
            "early_stopping": {"patience": 5},
            "diagnosis": {"probes": False},
        }
        long = client.post("/v1/jobs", json={**spec, "name": "never-finishes", "epochs": 5000}).json()
        busy = client.get(f"/v1/jobs/{long['id']}/model", params={"format": "onnx"})
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "job_not_finished", busy.text
        client.post(f"/v1/jobs/{long['id']}/cancel")
        job = client.post("/v1/jobs", json=spec).json()
        job = wait_for(client, job["id"], finished)
        assert job["status"] == "succeeded", job
        if wait_for(client, long["id"], finished)["progress"]["epoch"] == 0:
            none = client.get(f"/v1/jobs/{long['id']}/model")
            assert none.status_code == 409 and none.json()["error"]["code"] == "no_weights", none.text

        unknown = client.get(f"/v1/jobs/{job['id']}/model", params={"format": "pickle"})
        assert unknown.status_code == 422, unknown.text
        assert all(name in unknown.text for name in ("safetensors", "pt2", "onnx")), unknown.text
        assert bob.get(f"/v1/jobs/{job['id']}/model").status_code == 404

        folder = tmp_path / "downloads"
        folder.mkdir()
        for export_format, name in (("safetensors", "model.safetensors"), ("pt2", "model.pt2"), ("onnx", "model.onnx")):
            response = download(client, job["id"], export_format)
            assert response.status_code == 200, response.text
            assert int(response.headers["content-length"]) == len(response.content) > 0
            suffix = Path(name).suffix
            assert f'filename="{job["id"]}{suffix}"' in response.headers["content-disposition"]
            assert response.headers["content-type"].startswith("application/")
            etag = response.headers["etag"]
            cached = client.get(
                f"/v1/jobs/{job['id']}/model", params={"format": export_format}, headers={"If-None-Match": etag}
            )
            assert cached.status_code == 304 and cached.content == b""
            assert download(client, job["id"], export_format).content == response.content  # made once, cached
            (folder / name).write_bytes(response.content)

    # the job's raw test rows, as the trainer split them, and their labels
    parsed = JobSpec.model_validate(spec)
    data = next(iter(fold_data(load_dataset(parsed.dataset, stack.data_dir), parsed.dataset)))
    assert data.test_rows is not None
    raw = load_dataset(parsed.dataset, stack.data_dir).X[data.test_rows]
    (folder / "rows.json").write_text(json.dumps(raw.astype(np.float64).tolist()))
    (folder / "truth.json").write_text(json.dumps(data.y_test.tolist()))
    reported = job["summary"]["best_metrics"]["test_accuracy"]

    started = time.perf_counter()
    torch_python = make_isolated_venv(tmp_path / "torch-only", ["torch"])
    onnx_python = make_isolated_venv(tmp_path / "onnxruntime-only", ["onnxruntime", "numpy"])
    print(f"two isolated virtualenvs made in {time.perf_counter() - started:.2f} s")
    for python in (torch_python, onnx_python):
        absent = subprocess.run(
            [str(python), "-c", "import importlib.util as u; print(u.find_spec('trainwell'), u.find_spec('trainer'))"],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        assert absent.stdout.split() == ["None", "None"], absent

    in_torch = run_isolated(torch_python, TORCH_PROGRAM, folder)
    in_onnx = run_isolated(onnx_python, ONNX_PROGRAM, folder)
    print(in_torch, in_onnx)
    assert in_torch["pt2"] == pytest.approx(reported, abs=1e-5)
    assert in_torch["safetensors"] == pytest.approx(reported, abs=1e-5)
    assert in_onnx["onnx"] == pytest.approx(reported, abs=1e-5)
    assert in_torch["labels"] == LABELS == dataset["classes"]
    assert in_torch["features"] == FEATURES
    assert set(in_torch["predicted"]) <= set(LABELS)
    assert in_torch["epoch"] == job["summary"]["best_epoch"]

    # the SDK: download waits through the 202s; load_model rebuilds the module from the safetensors file
    with trainwell.Client(base_url=stack.base_url, api_key=stack.keys["alice"]) as sdk:
        handle = sdk.jobs.retrieve(job["id"])
        saved = handle.download_model(tmp_path / "sdk.safetensors", format="safetensors")
        assert saved.read_bytes() == (folder / "model.safetensors").read_bytes()
        with pytest.raises(trainwell.NotFoundError):
            sdk.jobs.download_model("no-such-job", tmp_path / "missing.onnx", format="onnx")
    model = trainwell.load_model(saved)
    with torch.no_grad():
        predicted = model(torch.from_numpy(raw)).argmax(1).numpy()
    assert float((predicted == data.y_test).mean()) == pytest.approx(reported, abs=1e-5)
    assert model.labels == LABELS and model.features == FEATURES
