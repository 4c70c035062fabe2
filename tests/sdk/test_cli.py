"""The `trainwell` command end to end, as a script would run it: a subprocess, env for URL and key, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.sdk.conftest import TINY_IRIS
from tests.stack import Stack

CLI = Path(sys.executable).with_name("trainwell")
# sgd at lr 100 on unnormalized regression features overflows in the first epochs: a job that fails
DIVERGING = {
    "name": "cli-diverges",
    "dataset": {"name": "diabetes", "feature_norm": "none"},
    "model": {"hidden": [8]},
    "optimizer": {"name": "sgd", "lr": 100},
    "epochs": 3,
}


def trainwell(stack: Stack, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINWELL_")}
    env.update(TRAINWELL_URL=stack.base_url, TRAINWELL_API_KEY=key or stack.keys["alice"], COLUMNS="200")
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=180)


def as_json(run: subprocess.CompletedProcess[str]) -> Any:
    assert run.returncode == 0, (run.returncode, run.stdout, run.stderr)
    return json.loads(run.stdout)


def test_cli_submit_wait_and_inspect(stack: Stack, tmp_path: Path) -> None:
    spec_file = tmp_path / "tiny.yaml"
    spec_file.write_text(yaml.safe_dump({**TINY_IRIS, "name": "cli-tiny"}))

    done = as_json(trainwell(stack, "submit", str(spec_file), "--wait", "--json"))
    assert done["status"] == "succeeded" and done["name"] == "cli-tiny" and done["progress"]["epoch"] == 3
    job_id = done["id"]

    assert job_id in [job["id"] for job in as_json(trainwell(stack, "jobs", "ls", "--json", "--limit", "200"))]
    shown = as_json(trainwell(stack, "jobs", "show", job_id, "--json"))
    assert shown["summary"]["best_epoch"] >= 1
    metrics = as_json(trainwell(stack, "jobs", "metrics", job_id, "--names", "train_loss,val_loss", "--json"))
    assert sorted(s["name"] for s in metrics["series"]) == ["train_loss", "val_loss"]
    assert [p["epoch"] for p in metrics["series"][0]["points"]] == [1, 2, 3]

    png = tmp_path / "curves.png"
    assert as_json(trainwell(stack, "jobs", "plot", job_id, "--out", str(png), "--json")) == {"path": str(png)}
    assert png.read_bytes()[:4] == b"\x89PNG"

    table = trainwell(stack, "jobs", "show", job_id)
    assert table.returncode == 0 and "succeeded" in table.stdout and "val_loss" in table.stdout
    assert f"trained on {shown['summary']['device']}" in table.stdout  # "cpu" here, "cuda:0 (…)" on a GPU host

    finished_already = trainwell(stack, "jobs", "cancel", job_id, "--json")
    assert finished_already.returncode == 2 and "409" in finished_already.stderr and not finished_already.stdout


def test_cli_exit_codes(stack: Stack, tmp_path: Path) -> None:
    diverging = tmp_path / "diverging.json"
    diverging.write_text(json.dumps(DIVERGING))
    failed = trainwell(stack, "submit", str(diverging), "--wait", "--json")
    assert failed.returncode == 1, (failed.stdout, failed.stderr)
    assert json.loads(failed.stdout)["error"]["reason"] == "diverged"

    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({**TINY_IRIS, "optimizer": {"name": "adamax"}}))
    invalid = trainwell(stack, "submit", str(typo))
    assert invalid.returncode == 2 and "optimizer.name" in invalid.stderr and "422" in invalid.stderr

    assert trainwell(stack, "jobs", "show", "no-such-job").returncode == 2
    forged = trainwell(stack, "jobs", "ls", key="tw_00000000_forged")
    assert forged.returncode == 2 and "401" in forged.stderr
    assert trainwell(stack, "jobs", "ls", "--status", "sleeping").returncode == 2  # a usage error
    assert trainwell(stack, "submit", str(tmp_path / "absent.yaml")).returncode == 2
