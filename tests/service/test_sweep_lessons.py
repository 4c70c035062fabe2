"""The lectures' comparisons as sweeps on the real stack, judged by the direction of the differences and the
presence or absence of each finding, never by exact numbers:

- SGD, SGD with momentum and Adam × batch 16 and 1024 × three seeds on digits, at equal epochs: the small
  batch generalizes better for every optimizer; at the large batch, plain SGD is left far behind (momentum
  and Adam get off the plateau it stays on); the large batch's worse validation loss comes with a much
  higher training loss, so it is underfitting, and `large_batch_sharper_minimum` must not claim it;
- cells that differ by a weight decay too small to matter: `difference_within_noise`, with the seeds a
  separable answer would need.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.stack import Stack, poll

OPTIMIZERS = [
    {"name": "sgd", "lr": 0.05, "momentum": 0.0},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    {"name": "adam", "lr": 0.003},
]
LECTURE = {
    "name": "optimizers × batch sizes",
    "base": {"dataset": {"name": "digits"}, "model": {"hidden": [64]}, "epochs": 8},
    "grid": {"optimizer": OPTIMIZERS, "batch_size": [16, 1024]},
    "seeds": [0, 1, 2],
    "max_parallel": 4,
}
NOISE = {
    "name": "a weight decay too small to matter",
    "base": {"dataset": {"name": "digits"}, "model": {"hidden": [32]}, "optimizer": {"name": "adam"}, "epochs": 4},
    "grid": {"optimizer.weight_decay": [0.0, 1e-7]},
    "seeds": [0, 1, 2],
}


def run(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    created = client.post("/v1/sweeps", json=body)
    assert created.status_code == 201, created.text
    return poll(
        lambda: client.get(f"/v1/sweeps/{created.json()['id']}").json(),
        lambda sweep: sweep["status"] != "running",
        f"sweep {body['name']!r} did not end",
        900,
        every=1.0,
    )


def cell(sweep: dict[str, Any], optimizer: dict[str, Any], batch_size: int) -> dict[str, Any]:
    return next(row for row in sweep["table"] if row["values"] == {"optimizer": optimizer, "batch_size": batch_size})


def mean(row: dict[str, Any], metric: str) -> float:
    value: float = row["metrics"][metric]["mean"]
    return value


def test_the_optimizer_and_batch_size_lecture(stack: Stack) -> None:
    with stack.client(stack.new_key(f"lecture-{uuid.uuid4().hex[:6]}")) as client:
        sweep = run(client, LECTURE)
    assert sweep["status"] == "succeeded" and sweep["counts"]["succeeded"] == 18, sweep["counts"]
    assert [row["succeeded"] for row in sweep["table"]] == [3] * 6
    for optimizer in OPTIMIZERS:
        small, large = cell(sweep, optimizer, 16), cell(sweep, optimizer, 1024)
        assert mean(small, "best_val_loss") < mean(large, "best_val_loss"), optimizer
        # at equal epochs the large batch takes 1/64 of the steps: it has not fit the training set
        assert mean(large, "best_train_loss") > 2 * mean(small, "best_train_loss"), optimizer
    plain = mean(cell(sweep, OPTIMIZERS[0], 1024), "best_train_loss")
    for better in OPTIMIZERS[1:]:
        assert mean(cell(sweep, better, 1024), "best_train_loss") < 0.75 * plain, better

    codes = {finding["code"] for finding in sweep["findings"]}
    assert "large_batch_sharper_minimum" not in codes, "an underfitting large batch is not a sharper minimum"
    best = sweep["best"]
    assert sweep["table"][best["best_cell"]]["values"]["batch_size"] == 16
    assert best["p_value"] is not None and 0 <= best["p_value"] <= 1
    assert ("difference_within_noise" in codes) == (best["separable"] is False)
    for finding in sweep["findings"]:
        assert finding["title"] and finding["explanation"] and finding["evidence"], finding


def test_cells_that_differ_by_noise_alone_are_not_told_apart(stack: Stack) -> None:
    with stack.client(stack.new_key(f"noise-{uuid.uuid4().hex[:6]}")) as client:
        sweep = run(client, NOISE)
    assert sweep["status"] == "succeeded" and sweep["best"]["separable"] is not True, sweep["best"]
    within = [finding for finding in sweep["findings"] if finding["code"] == "difference_within_noise"]
    assert len(within) == 1, sweep["findings"]
    evidence = within[0]["evidence"]
    assert evidence["seeds_needed"] is None or evidence["seeds_needed"] > 3, evidence
