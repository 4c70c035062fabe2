"""Runs logged through the SDK from real training code: a plain PyTorch loop (gradient norms through
hooks) and a Lightning trainer (TrainwellLogger, by running the example), each diagnosed by the worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import trainwell
from tests.stack import Stack
from trainwell.integrations.torch import GradientNorms

ROOT = Path(__file__).resolve().parents[2]
VERDICTS = {"good_fit", "model_bias", "optimization", "overfitting", "mismatch", "diverged"}


def test_a_plain_loop_logs_losses_and_gradient_norms_and_gets_a_diagnosis(stack: Stack) -> None:
    torch.manual_seed(0)
    X = torch.randn(256, 8)
    y = (X[:, 0] + X[:, 1] > 0).long()
    X_val, y_val = X[:64], y[:64]
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    client = trainwell.Client(base_url=stack.base_url, api_key=stack.keys["alice"])
    with client.runs.start(
        name="plain-loop", task="classification", classes=2, class_prior=[0.5, 0.5], config={"lr": 0.2}
    ) as run:
        gradients = GradientNorms(model)
        for epoch in range(15):
            for start in range(64, 256, 32):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(X[start : start + 32]), y[start : start + 32])
                loss.backward()
                optimizer.step()
                run.log({"custom/batch_loss": loss.item()})  # a step series of the run's own
            with torch.no_grad():
                train_loss = nn.functional.cross_entropy(model(X[64:]), y[64:]).item()
                val_loss = nn.functional.cross_entropy(model(X_val), y_val).item()
            run.log(epoch=epoch, train_loss=train_loss, val_loss=val_loss, **gradients.epoch_metrics())
    assert run.job.status == "succeeded" and run.job.origin == "external"
    diagnosis = client.runs.wait_diagnosis(run.id, timeout=240)
    assert diagnosis.status == "ready" and diagnosis.verdict in VERDICTS, diagnosis
    assert "not_examined" in [f.code for f in diagnosis.findings]
    series = {s.name: len(s.points) for s in client.jobs.metrics(run.id).series}
    assert series["train_loss"] == 15 and series["grad_norm_first"] == 15 and series["custom/batch_loss"] == 15 * 6
    client.close()


def test_a_lightning_run_gets_a_verdict(stack: Stack, tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    env = {**os.environ, "TRAINWELL_URL": stack.base_url, "TRAINWELL_API_KEY": stack.keys["alice"]}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "lightning_run.py"), "--epochs", "8"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("run "))
    run_id, verdict = line.split()[1].rstrip(":"), line.split()[2]
    assert verdict in VERDICTS, done.stdout
    with trainwell.Client(base_url=stack.base_url, api_key=stack.keys["alice"]) as client:
        job = client.jobs.retrieve(run_id)
        assert job.origin == "external" and job.status == "succeeded" and job.verdict == verdict
        names = {s.name for s in client.jobs.metrics(run_id).series}
        assert {"train_loss", "val_loss", "val_accuracy"} <= names


def test_the_sdk_sends_non_finite_values_and_surfaces_a_refused_batch(stack: Stack) -> None:
    with trainwell.Client(base_url=stack.base_url, api_key=stack.keys["alice"]) as client:
        with client.runs.start(task="regression", target_variance=1.0) as run:
            run.log(epoch=0, train_loss=0.9)
            run.log(epoch=1, train_loss=float("inf"))
        assert run.job.status == "failed" and run.job.error is not None and run.job.error.reason == "diverged"

        refused = client.runs.start(task="regression")
        refused.log({"not_a_metric": 1.0}, epoch=0)
        with pytest.raises(trainwell.APIStatusError) as error:
            refused.flush()
        assert error.value.status_code == 422 and "points[0].name" in str(error.value)
        with pytest.raises(trainwell.APIStatusError):
            refused.finish()
        assert client.runs.finish(refused.id).status == "succeeded"
