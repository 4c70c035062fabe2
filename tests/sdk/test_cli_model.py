"""`trainwell jobs model JOB --format onnx --out model.onnx`, as a subprocess: the file runs in onnxruntime
on raw rows; a refused download exits non-zero with the service's reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import yaml
from sklearn.datasets import load_iris

from tests.sdk.conftest import TINY_IRIS
from tests.sdk.test_cli import as_json, trainwell
from tests.stack import Stack


def test_cli_downloads_a_model_that_runs_on_raw_rows(stack: Stack, tmp_path: Path) -> None:
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(yaml.safe_dump({**TINY_IRIS, "name": "cli-model"}))
    done = as_json(trainwell(stack, "submit", str(spec_file), "--wait", "--json"))
    assert done["status"] == "succeeded"

    out = tmp_path / "model.onnx"
    written = trainwell(stack, "jobs", "model", done["id"], "--format", "onnx", "--out", str(out), "--json")
    assert as_json(written)["path"] == str(out)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    X, y = load_iris(return_X_y=True)
    (logits,) = session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})
    assert logits.shape == (150, 3) and float((logits.argmax(1) == y).mean()) > 0.6

    unknown = trainwell(stack, "jobs", "model", done["id"], "--format", "pickle", "--out", str(tmp_path / "x"))
    assert unknown.returncode == 2 and not (tmp_path / "x").exists()
    missing = trainwell(stack, "jobs", "model", "no-such-job", "--out", str(tmp_path / "y"))
    assert missing.returncode != 0 and "not found" in missing.stderr.lower() and not (tmp_path / "y").exists()
