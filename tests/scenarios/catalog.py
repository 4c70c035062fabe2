"""The evaluation suite: specs built to produce one known pathology each, with the reason for the label.

Every label comes from how the spec was constructed, not from what the diagnosis says; `REFERENCE`
in test_scenarios.py checks each construction with the real trainer (the loss curves must show the
mechanism the label claims) before the diagnosis is judged. Sizes are tiny so the suite trains fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from trainwell.diagnosis import Verdict
from trainwell.spec import JobSpec


@dataclass(frozen=True)
class Scenario:
    name: str
    verdict: Verdict
    why: str  # the construction that produces the pathology
    spec: dict[str, Any]

    def job_spec(self) -> JobSpec:
        return JobSpec.model_validate({"name": self.name, **self.spec})

    def reseeded(self, seed: int) -> Scenario:
        """The same construction under another seed: other initial weights and batch order, and another draw
        of the data's splits (and of a synthetic dataset's rows) — a verdict must not hang on either."""
        return dataclasses.replace(
            self, spec={**self.spec, "seed": seed, "dataset": {**self.spec["dataset"], "seed": seed}}
        )


def _spec(dataset: str, **fields: Any) -> dict[str, Any]:
    data = {"name": dataset, **fields.pop("data", {})}
    return {"dataset": data, "device": "cpu", **fields}


# every scenario also runs under these seeds (its own is the JobSpec's default, 0)
OTHER_SEEDS = (1, 2, 3)

SCENARIOS: tuple[Scenario, ...] = (
    # -- good fit: a model of adequate size, a sane optimizer, data from one distribution ----------------
    Scenario(
        "digits-mlp-adam",
        Verdict.good_fit,
        "one hidden layer of 64 on 8×8 digits with Adam: the classic setting that reaches ~97% in a few epochs",
        _spec("digits", model={"hidden": [64]}, optimizer={"name": "adam", "lr": 0.003}, batch_size=64, epochs=12),
    ),
    Scenario(
        "moons-sgd-momentum",
        Verdict.good_fit,
        "two interleaved moons (noise 0.1) are separable by a small ReLU MLP; SGD with momentum gets there",
        _spec(
            "moons",
            data={"n_samples": 400},
            model={"hidden": [32, 32]},
            optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9},
            batch_size=32,
            epochs=20,
        ),
    ),
    Scenario(
        "sine-tanh-mse",
        Verdict.good_fit,
        "sin(x) with noise 0.1 is a smooth 1-D function a tanh MLP fits to the noise floor",
        _spec(
            "sine",
            data={"n_samples": 400},
            model={"hidden": [32, 32], "activation": "tanh"},
            optimizer={"name": "adam", "lr": 0.01},
            batch_size=32,
            epochs=30,
        ),
    ),
    Scenario(
        "blobs-adagrad",
        Verdict.good_fit,
        "three Gaussian blobs of std 1 are nearly linearly separable: any small model with a working optimizer fits them",
        _spec(
            "blobs",
            data={"n_samples": 400},
            model={"hidden": [16]},
            optimizer={"name": "adagrad", "lr": 0.1},
            batch_size=32,
            epochs=15,
        ),
    ),
    Scenario(
        "digits-cnn-batchnorm",
        Verdict.good_fit,
        "a small CNN with BatchNorm on the 8×8 images, Adam and early stopping",
        _spec(
            "digits",
            model={"kind": "cnn", "channels": [8], "hidden": [32], "norm": "batch"},
            optimizer={"name": "adam", "lr": 0.003},
            batch_size=64,
            epochs=8,
            early_stopping={"patience": 3},
        ),
    ),
    # -- model bias: a model that cannot represent the boundary ------------------------------------------
    Scenario(
        "circles-linear",
        Verdict.model_bias,
        "concentric circles: no line separates them, so a linear model stays at chance whatever the optimizer",
        _spec(
            "circles", data={"n_samples": 400}, model={"hidden": []}, optimizer={"name": "adam", "lr": 0.01}, epochs=15
        ),
    ),
    Scenario(
        "xor-linear-momentum",
        Verdict.model_bias,
        "XOR of the signs of two features: the textbook problem no linear model can solve",
        _spec(
            "xor",
            data={"n_samples": 400},
            model={"hidden": []},
            optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9},
            epochs=15,
        ),
    ),
    Scenario(
        "spirals-two-units",
        Verdict.model_bias,
        "two spirals of 1.5 turns need many bends; two tanh units can draw at most a couple of them",
        _spec(
            "spirals",
            data={"n_samples": 400},
            model={"hidden": [2], "activation": "tanh"},
            optimizer={"name": "adam", "lr": 0.02},
            epochs=20,
        ),
    ),
    # -- optimization: the model could fit, the optimizer does not get there ------------------------------
    Scenario(
        "digits-deep-sigmoid-sgd",
        Verdict.optimization,
        "six sigmoid layers shrink the gradient ×0.25 each on its way back; plain SGD leaves the network at chance",
        _spec(
            "digits",
            model={"hidden": [64] * 6, "activation": "sigmoid"},
            optimizer={"name": "sgd", "lr": 0.01},
            batch_size=64,
            epochs=10,
        ),
    ),
    Scenario(
        "wine-tiny-lr",
        Verdict.optimization,
        "SGD with lr 1e-5: every step moves the weights by ~1e-6 of their norm, so nothing is learned",
        _spec("wine", model={"hidden": [32]}, optimizer={"name": "sgd", "lr": 1e-5}, batch_size=16, epochs=15),
    ),
    Scenario(
        "digits-adam-lr-too-large",
        Verdict.optimization,
        "Adam with lr 0.3: the first steps throw the weights far away, units die, the loss bounces near chance",
        _spec("digits", model={"hidden": [64, 64]}, optimizer={"name": "adam", "lr": 0.3}, batch_size=64, epochs=10),
    ),
    Scenario(
        "breast-cancer-raw-tanh",
        Verdict.optimization,
        "raw breast-cancer features (std up to ~500) drive tanh units to saturation: their gradients vanish",
        _spec(
            "breast_cancer",
            data={"feature_norm": "none"},
            model={"hidden": [32, 32], "activation": "tanh"},
            optimizer={"name": "sgd", "lr": 0.01},
            epochs=10,
        ),
    ),
    Scenario(
        "digits-mse-sgd",
        Verdict.optimization,
        "MSE on softmax outputs with plain SGD at lr 0.05: the gradient is tiny from the start and training crawls",
        _spec(
            "digits",
            model={"hidden": [64]},
            optimizer={"name": "sgd", "lr": 0.05},
            loss="mse",
            batch_size=64,
            epochs=10,
        ),
    ),
    Scenario(
        "breast-cancer-raw-rmsprop",
        Verdict.optimization,
        "RMSprop with lr 1 on raw features in the thousands: the first epoch's loss reaches ~1e5, most ReLUs die, "
        "and the loss bounces from epoch to epoch (a bad learning rate)",
        _spec(
            "breast_cancer",
            data={"feature_norm": "none"},
            model={"hidden": [64]},
            optimizer={"name": "rmsprop", "lr": 1.0},
            epochs=10,
        ),
    ),
    # -- overfitting: far more capacity than data -------------------------------------------------------
    Scenario(
        "digits-100-rows-wide-mlp",
        Verdict.overfitting,
        "100 training images for a 256-256 MLP (~85k weights) trained 40 epochs: it memorizes them",
        _spec(
            "digits",
            data={"train_subset": 100},
            model={"hidden": [256, 256]},
            optimizer={"name": "adam", "lr": 0.003},
            batch_size=32,
            epochs=40,
        ),
    ),
    Scenario(
        "moons-noisy-30-rows",
        Verdict.overfitting,
        "30 training rows of noisy moons (noise 0.35) for a 128-128 MLP trained 150 epochs: it draws around each row",
        _spec(
            "moons",
            data={"n_samples": 300, "noise": 0.35, "train_subset": 30},
            model={"hidden": [128, 128]},
            optimizer={"name": "adam", "lr": 0.01},
            batch_size=16,
            epochs=150,
        ),
    ),
    Scenario(
        "sine-20-rows-regression",
        Verdict.overfitting,
        "20 noisy samples of sin(x) (noise 0.3) for a 128-128 MLP trained 400 epochs: it interpolates the noise",
        # lr 0.005: at 0.01 full-batch Adam oscillates late, and the last epoch's train loss landed
        # anywhere in 0.036–0.074 across seeds; at 0.005 it is 0.031–0.033 (val/train 6.7–7.7×)
        _spec(
            "sine",
            data={"n_samples": 300, "noise": 0.3, "train_subset": 20},
            model={"hidden": [128, 128]},
            optimizer={"name": "adam", "lr": 0.005},
            batch_size=20,
            epochs=400,
        ),
    ),
    # -- mismatch: the test features are shifted away from the training distribution -------------------
    Scenario(
        "moons-test-shift",
        Verdict.mismatch,
        "the test features are moved by 1.5 training stds: a well-fitted boundary misplaces them",
        _spec(
            "moons",
            data={"n_samples": 400, "test_shift": 1.5},
            model={"hidden": [32, 32]},
            optimizer={"name": "adam", "lr": 0.01},
            epochs=20,
        ),
    ),
    Scenario(
        "digits-test-shift",
        Verdict.mismatch,
        "every test pixel shifted by one training std: brighter images than any the model saw",
        _spec(
            "digits",
            data={"test_shift": 1.0},
            model={"hidden": [64]},
            optimizer={"name": "adam", "lr": 0.003},
            batch_size=64,
            epochs=10,
        ),
    ),
    Scenario(
        "wine-kfold-test-shift",
        Verdict.mismatch,
        "3-fold cross-validation on wine, test features shifted by 2 stds: validation folds agree, the test set does not",
        _spec(
            "wine",
            data={"test_shift": 2.0, "validation": {"kfold": 3}},
            model={"hidden": [32]},
            optimizer={"name": "adamw", "lr": 0.01},
            batch_size=16,
            epochs=15,
        ),
    ),
    # -- diverged: steps so large the loss overflows ----------------------------------------------------
    Scenario(
        "digits-sgd-lr-100",
        Verdict.diverged,
        "SGD with lr 100 multiplies the weights by ~100× the gradient each step: NaN within an epoch",
        _spec("digits", model={"hidden": [64, 64]}, optimizer={"name": "sgd", "lr": 100.0}, epochs=5),
    ),
    Scenario(
        "sine-sgd-lr-3",
        Verdict.diverged,
        "a regression MLP under MSE with SGD lr 3: each step overshoots the quadratic by more than it corrects",
        _spec(
            "sine", data={"n_samples": 400}, model={"hidden": [32, 32]}, optimizer={"name": "sgd", "lr": 3.0}, epochs=5
        ),
    ),
    Scenario(
        "moons-sgd-lr-50",
        Verdict.diverged,
        "SGD with lr 50 on a ReLU MLP: the first steps multiply the logits a billionfold; the loss ends far above chance",
        _spec(
            "moons",
            data={"n_samples": 400},
            model={"hidden": [32, 32]},
            optimizer={"name": "sgd", "lr": 50.0},
            epochs=5,
        ),
    ),
    # -- datasets of at most 200 rows: small validation and test sets, whose noise must not decide --------
    Scenario(
        "iris-wide-mlp-27-val-rows",
        Verdict.good_fit,
        "a 256-256 MLP drives iris's training loss to ~0; its validation loss on 24 rows is a few borderline "
        "rows' doing and its test loss stays low: it generalizes, and the gap is within the rows' noise",
        _spec(
            "iris",
            model={"hidden": [256, 256]},
            optimizer={"name": "adam", "lr": 0.01},
            batch_size=64,
            epochs=200,
        ),
    ),
    Scenario(
        "wine-mlp-adam",
        Verdict.good_fit,
        "wine's 13 standardized features separate its 3 cultivars almost linearly: a small MLP fits 178 rows",
        _spec("wine", model={"hidden": [32]}, optimizer={"name": "adam", "lr": 0.01}, batch_size=16, epochs=30),
    ),
    Scenario(
        "iris-linear",
        Verdict.good_fit,
        "iris's classes are nearly linearly separable in its 4 features: a linear model is enough",
        _spec("iris", model={"hidden": []}, optimizer={"name": "adam", "lr": 0.05}, batch_size=16, epochs=100),
    ),
    Scenario(
        "blobs-150-rows",
        Verdict.good_fit,
        "150 rows of three Gaussian blobs: a small MLP fits them, with 24 validation and 30 test rows",
        _spec(
            "blobs",
            data={"n_samples": 150},
            model={"hidden": [16]},
            optimizer={"name": "adam", "lr": 0.02},
            batch_size=16,
            epochs=40,
        ),
    ),
    Scenario(
        "circles-150-linear",
        Verdict.model_bias,
        "150 rows of concentric circles: no line separates them, however few rows there are",
        _spec(
            "circles",
            data={"n_samples": 150},
            model={"hidden": []},
            optimizer={"name": "adam", "lr": 0.01},
            batch_size=16,
            epochs=30,
        ),
    ),
    Scenario(
        "iris-sgd-tiny-lr",
        Verdict.optimization,
        "SGD with lr 1e-5 on iris: the weights barely move from their initialization, the loss stays at chance",
        _spec("iris", model={"hidden": [32]}, optimizer={"name": "sgd", "lr": 1e-5}, batch_size=16, epochs=20),
    ),
    Scenario(
        "xor-200-rows-40-train-wide",
        Verdict.overfitting,
        "40 training rows of noisy XOR (noise 0.5) for a 256-256 MLP trained 300 epochs: it memorizes the noise",
        _spec(
            "xor",
            data={"n_samples": 200, "noise": 0.5, "train_subset": 40},
            model={"hidden": [256, 256]},
            optimizer={"name": "adam", "lr": 0.01},
            batch_size=40,
            epochs=300,
        ),
    ),
    Scenario(
        "wine-test-shift-wide",
        Verdict.mismatch,
        "a 128-128 MLP trained to ~0 on wine, test features moved by 2 stds: the shift's loss dwarfs the "
        "generalization gap the overfit-prone model also has",
        _spec(
            "wine",
            data={"test_shift": 2.0},
            model={"hidden": [128, 128]},
            optimizer={"name": "adam", "lr": 0.01},
            batch_size=16,
            epochs=100,
        ),
    ),
    Scenario(
        "moons-120-test-shift-wide",
        Verdict.mismatch,
        "120 rows of moons for a 128-128 MLP trained 150 epochs, test features moved by 1.5 stds",
        _spec(
            "moons",
            data={"n_samples": 120, "test_shift": 1.5},
            model={"hidden": [128, 128]},
            optimizer={"name": "adam", "lr": 0.01},
            batch_size=16,
            epochs=150,
        ),
    ),
    Scenario(
        "sine-150-sgd-lr-3",
        Verdict.diverged,
        "150 rows of sin(x) under MSE with SGD lr 3: each step overshoots the quadratic by more than it corrects",
        _spec(
            "sine", data={"n_samples": 150}, model={"hidden": [32, 32]}, optimizer={"name": "sgd", "lr": 3.0}, epochs=5
        ),
    ),
)
