"""Optimizers, learning-rate schedules, gradient clipping and weight decay, through real training runs."""

from __future__ import annotations

import math

import pytest

from tests.trainer.builders import make_spec, train


def _final_train_loss(optimizer: dict[str, object]) -> float:
    spec = make_spec("digits", model={"hidden": [64]}, optimizer=optimizer, epochs=4, batch_size=64)
    return train(spec)[1].series("train_loss")[-1]


def test_momentum_and_adam_reach_a_lower_training_loss_than_plain_sgd() -> None:
    plain = _final_train_loss({"name": "sgd", "lr": 0.01})
    momentum = _final_train_loss({"name": "sgd", "lr": 0.01, "momentum": 0.9})
    nesterov = _final_train_loss({"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True})
    adam = _final_train_loss({"name": "adam", "lr": 0.01})
    assert momentum < 0.5 * plain and nesterov < 0.5 * plain and adam < 0.5 * plain


@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "sgd", "lr": 0.1, "momentum": 0.9},
        {"name": "adagrad", "lr": 0.1},
        {"name": "rmsprop", "lr": 0.01, "alpha": 0.9, "momentum": 0.5},
        {"name": "adam", "lr": 0.01, "betas": [0.8, 0.99]},
        {"name": "adamw", "lr": 0.01, "weight_decay": 0.01},
    ],
)
def test_every_optimizer_learns(optimizer: dict[str, object]) -> None:
    spec = make_spec("moons", model={"hidden": [32]}, optimizer=optimizer, dataset={"n_samples": 600}, epochs=8)
    result, recorder = train(spec)
    losses = recorder.series("train_loss")
    assert losses[-1] < 0.6 * losses[0]
    assert result.folds[0].best_metrics["val_accuracy"] > 0.85


def _lrs(schedule: dict[str, object], epochs: int = 6) -> list[float]:
    spec = make_spec(
        "moons", model={"hidden": []}, optimizer={"name": "sgd", "lr": 0.1}, schedule=schedule, epochs=epochs
    )
    return train(spec)[1].series("lr")


def test_schedules_follow_pytorchs_schedulers_epoch_by_epoch() -> None:
    assert _lrs({"name": "constant"}) == pytest.approx([0.1] * 6)
    assert _lrs({"name": "step", "step_size": 2, "gamma": 0.5}) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert _lrs({"name": "exponential", "gamma": 0.5}) == pytest.approx([0.1 * 0.5**e for e in range(6)])
    cosine = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 6)) / 2 for e in range(6)]
    assert _lrs({"name": "cosine", "min_lr": 0.01}) == pytest.approx(cosine)


def test_warmup_ramps_linearly_from_a_tenth_then_hands_over() -> None:
    assert _lrs({"name": "constant", "warmup_epochs": 2}) == pytest.approx([0.01, 0.055, 0.1, 0.1, 0.1, 0.1])
    after_warmup = _lrs({"name": "cosine", "warmup_epochs": 2})[2:]
    assert after_warmup == pytest.approx([0.05 * (1 + math.cos(math.pi * e / 4)) for e in range(4)])
    assert _lrs({"name": "step", "warmup_epochs": 1, "step_size": 1}, epochs=3) == pytest.approx([0.01, 0.1, 0.01])


def test_grad_clip_bounds_each_update() -> None:
    def update_ratio(grad_clip: float | None) -> float:
        spec = make_spec("moons", optimizer={"name": "sgd", "lr": 0.5, "grad_clip": grad_clip}, epochs=1)
        return train(spec)[1].series("update_ratio")[0]

    clipped, free = update_ratio(0.001), update_ratio(None)
    assert clipped < 0.05 * free


def test_weight_decay_shrinks_the_weights() -> None:
    def weight_norm(weight_decay: float) -> float:
        spec = make_spec("moons", optimizer={"name": "adamw", "lr": 0.01, "weight_decay": weight_decay}, epochs=6)
        return train(spec)[1].series("weight_norm")[-1]

    assert weight_norm(5.0) < 0.8 * weight_norm(0.0)
