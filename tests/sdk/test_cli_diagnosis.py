"""`trainwell submit --wait` with the verdict, `jobs diagnose`, `remedy` and `datasets`, as subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.sdk.conftest import TINY_IRIS
from tests.sdk.test_cli import as_json, trainwell
from tests.stack import Stack


def test_cli_verdict_diagnose_remedy_datasets(stack: Stack, tmp_path: Path) -> None:
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(yaml.safe_dump({**TINY_IRIS, "name": "cli-verdict"}))
    done = as_json(trainwell(stack, "submit", str(spec_file), "--wait", "--json"))
    assert done["status"] == "succeeded" and done["diagnosis"]["verdict"]

    diagnosis = as_json(trainwell(stack, "jobs", "diagnose", done["id"], "--json"))
    assert diagnosis["verdict"] == done["diagnosis"]["verdict"]
    table = trainwell(stack, "jobs", "diagnose", done["id"])
    assert table.returncode == 0 and f"verdict: {diagnosis['verdict']}" in table.stdout
    assert f"confidence: {diagnosis['confidence']['level']}" in table.stdout and "losses: training" in table.stdout

    surface = tmp_path / "surface.png"
    drawn = trainwell(stack, "jobs", "landscape", done["id"], "--out", str(surface), "--json")
    assert drawn.returncode == 0, drawn.stderr
    assert as_json(drawn)["path"] == str(surface) and surface.read_bytes().startswith(b"\x89PNG")

    unknown = trainwell(stack, "remedy", done["id"], "no_such_code", "--json")
    assert unknown.returncode == 2 and not unknown.stdout
    with_remedies = [f for f in diagnosis["findings"] if f["remedies"]]
    if with_remedies:
        run = trainwell(stack, "remedy", done["id"], with_remedies[0]["code"], "--wait", "--json")
        assert run.returncode in (0, 1), run.stderr
        child = json.loads(run.stdout)
        assert child["parent_id"] == done["id"] and child["origin"] == "remedy"

    csv = tmp_path / "toy.csv"
    csv.write_text("a,b,y\n" + "".join(f"{i / 40:.3f},{(i * 7) % 5},{i % 3}\n" for i in range(60)))
    uploaded = as_json(trainwell(stack, "datasets", "upload", str(csv), "--target", "y", "--json"))
    assert uploaded["id"].startswith("ds_") and uploaded["rows"] == 60
    assert uploaded["id"] in [d["id"] for d in as_json(trainwell(stack, "datasets", "ls", "--json"))]
    assert trainwell(stack, "datasets", "upload", str(tmp_path / "absent.csv"), "--target", "y").returncode == 2
