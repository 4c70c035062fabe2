"""`trainwell jobs export-metrics RUN FILE`, as a subprocess: the file holds the run's points; a path
without a format's suffix, or another principal's run, exits non-zero and writes nothing."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.sdk.test_cli import as_json, trainwell
from tests.stack import Stack


def test_cli_exports_a_runs_metrics_to_a_file(stack: Stack, tmp_path: Path) -> None:
    with stack.client(stack.keys["alice"]) as client:
        run = client.post("/v1/runs", json={"task": "regression"}).json()
        points = [{"name": "train_loss", "epoch": s, "step": s, "value": 1 / (s + 1)} for s in range(5)]
        assert client.post(f"/v1/runs/{run['id']}/metrics", json={"points": points}).status_code == 200

    out = tmp_path / "metrics.csv"
    assert as_json(trainwell(stack, "jobs", "export-metrics", run["id"], str(out), "--json"))["path"] == str(out)
    rows = list(csv.DictReader(out.open()))
    assert [(r["name"], int(r["step"]), float(r["value"])) for r in rows] == [
        ("train_loss", p["step"], p["value"]) for p in points
    ]

    unnamed = trainwell(stack, "jobs", "export-metrics", run["id"], str(tmp_path / "metrics.xlsx"))
    assert unnamed.returncode == 2 and "csv, ndjson, parquet" in unnamed.stderr
    theirs = trainwell(stack, "jobs", "export-metrics", run["id"], str(tmp_path / "b.csv"), key=stack.keys["bob"])
    assert theirs.returncode != 0 and "not found" in theirs.stderr.lower() and not (tmp_path / "b.csv").exists()
