"""Losses and scores: cross-entropy vs MSE for classification; MSE, MAE and Huber for regression."""

from __future__ import annotations

import pytest
import torch

from tests.trainer.builders import make_spec, train
from trainer.losses import Objective


def test_classification_mse_compares_softmax_outputs_to_one_hot_targets() -> None:
    outputs, targets = torch.tensor([[10.0, -10.0], [0.0, 0.0]]), torch.tensor([0, 0])
    mse = Objective("mse", "classification", 2)
    assert mse.row_losses(outputs, targets).tolist() == pytest.approx([0.0, 0.25])
    result, recorder = train(make_spec("moons", loss="mse", dataset={"n_samples": 600}, epochs=8))
    assert all(0 <= loss <= 1 for loss in recorder.series("train_loss"))  # bounded, unlike cross-entropy
    assert result.folds[0].best_metrics["val_accuracy"] > 0.85


def test_cross_entropy_learns_faster_than_mse_from_a_bad_start() -> None:
    def final_loss_ratio(loss: str) -> float:
        spec = make_spec("digits", loss=loss, model={"hidden": [32]}, optimizer={"name": "sgd", "lr": 0.05}, epochs=3)
        losses = train(spec)[1].series("train_loss")
        return losses[-1] / losses[0]

    assert final_loss_ratio("cross_entropy") < final_loss_ratio("mse")


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_regression_losses_fit_a_sine_and_report_mae_and_r2(loss: str) -> None:
    spec = make_spec("sine", loss=loss, model={"hidden": [32, 32]}, dataset={"n_samples": 600}, epochs=25)
    result, _ = train(spec)
    best = result.folds[0].best_metrics
    assert best["val_r2"] > 0.8 and best["test_r2"] > 0.8
    assert best["val_mae"] < 0.3  # sin has amplitude 1, noise 0.1
    assert "val_accuracy" not in best


def test_diabetes_regression_reports_mae_in_target_units() -> None:
    result, _ = train(make_spec("diabetes", model={"hidden": [32]}, epochs=15, optimizer={"lr": 0.003}))
    best = result.folds[0].best_metrics
    assert best["val_r2"] > 0.3  # the usual linear baseline scores about 0.45
    assert 20 < best["val_mae"] < 70  # the target's std is ~77
