"""Models: capacity (linear vs MLP), the CNN, activations, norm placement, dropout."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.trainer.builders import make_spec, train
from trainer.augmentation import shift_pixels
from trainer.models import build_model
from trainwell.spec import ModelSpec

MOONS_BUDGET = {"dataset": {"n_samples": 600}, "optimizer": {"lr": 0.03}, "epochs": 10}


def test_a_linear_model_stays_near_chance_on_circles_while_an_mlp_does_not() -> None:
    circles = {"n_samples": 600}
    linear, _ = train(make_spec("circles", model={"hidden": []}, dataset=circles, epochs=15))
    mlp, _ = train(make_spec("circles", model={"hidden": [32, 32]}, dataset=circles, epochs=15))
    assert linear.folds[0].best_metrics["val_accuracy"] < 0.65  # no line separates concentric circles
    assert mlp.folds[0].best_metrics["val_accuracy"] > 0.95


def test_cnn_on_digit_images_learns() -> None:
    spec = make_spec("digits", model={"kind": "cnn", "channels": [8], "hidden": [32]}, epochs=4, batch_size=64)
    _, recorder = train(spec)
    assert recorder.series("val_accuracy")[-1] > 0.9
    assert recorder.series("train_loss")[-1] < recorder.series("train_loss")[0]


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu"])
def test_every_activation_learns_moons(activation: str) -> None:
    spec = make_spec("moons", model={"hidden": [32], "activation": activation}, **MOONS_BUDGET)
    result, _ = train(spec)
    assert result.folds[0].best_metrics["val_accuracy"] > 0.85


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("position", ["before_activation", "after_activation"])
def test_norm_layers_sit_where_the_spec_says_and_train(norm: str, position: str) -> None:
    spec = ModelSpec(hidden=[8], norm=norm, norm_position=position)  # type: ignore[arg-type]
    layers = [type(m) for m in build_model(spec, 2, 2, None)]
    norm_type = nn.BatchNorm1d if norm == "batch" else nn.LayerNorm
    expected = [nn.Linear, norm_type, nn.ReLU] if position == "before_activation" else [nn.Linear, nn.ReLU, norm_type]
    assert layers[:3] == expected
    result, _ = train(
        make_spec("moons", model={"hidden": [16], "norm": norm, "norm_position": position}, **MOONS_BUDGET)
    )
    assert result.folds[0].best_metrics["val_accuracy"] > 0.85


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_cnn_norms_train(norm: str) -> None:
    spec = make_spec("digits", model={"kind": "cnn", "channels": [4], "hidden": [], "norm": norm}, epochs=2)
    result, _ = train(spec)
    assert result.status == "completed" and result.folds[0].best_metrics["val_accuracy"] > 0.8


def test_dropout_is_in_the_model_and_only_active_in_training() -> None:
    model = build_model(ModelSpec(hidden=[64], dropout=0.5), 4, 2, None)
    assert any(isinstance(m, nn.Dropout) for m in model)
    x = torch.ones(8, 4)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))
    # dropout slows fitting the training set: a higher training loss on the same budget
    plain, with_dropout = (
        train(make_spec("moons", model={"hidden": [64], "dropout": p}, epochs=5))[1].series("train_loss")[-1]
        for p in (0.0, 0.6)
    )
    assert with_dropout > plain


def test_pixel_shift_moves_each_image_by_at_most_one_pixel() -> None:
    torch.manual_seed(0)
    images = torch.arange(2 * 64, dtype=torch.float32).view(2, 64)
    shifted = shift_pixels(images, (1, 8, 8)).view(2, 8, 8)
    original = images.view(2, 8, 8)
    for i in range(2):
        # the centre 6×6 of a shifted image is a 6×6 window of the original within one pixel of the centre
        windows = [original[i, 1 + dy : 7 + dy, 1 + dx : 7 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        assert any(torch.equal(shifted[i, 1:7, 1:7], w) for w in windows)
