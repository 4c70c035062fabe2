"""The fit loop: callbacks, determinism, stopping, divergence, early stopping, k-fold, instrumentation, devices."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.trainer.builders import Recorder, make_spec, train
from trainwell.metrics import METRIC_NAMES, STEP_METRICS


def test_records_arrive_per_epoch_with_finite_known_metrics() -> None:
    result, recorder = train(make_spec("digits", epochs=3, batch_size=100))
    assert recorder.started == {"folds": 1, "epochs": 3}
    assert [(r.fold, r.epoch) for r in recorder.records] == [(0, 1), (0, 2), (0, 3)]
    steps_per_epoch = 12  # digits: 1797 rows → 1437 non-test → 1149 training rows, in batches of 100
    assert [r.step for r in recorder.records] == [steps_per_epoch * e for e in (1, 2, 3)]
    for record in recorder.records:
        assert set(record.metrics) <= METRIC_NAMES
        assert all(math.isfinite(v) for v in record.metrics.values())
    assert result.status == "completed" and result.folds[0].epochs_run == 3


def test_same_seed_gives_identical_metrics_and_weights() -> None:
    spec = make_spec("moons", model={"hidden": [16], "dropout": 0.2}, augmentation={"gaussian_noise": 0.1}, epochs=3)
    (first, a), (second, b) = train(spec), train(spec)
    assert [r.metrics | {"epoch_seconds": 0, "samples_per_second": 0} for r in a.records] == [
        r.metrics | {"epoch_seconds": 0, "samples_per_second": 0} for r in b.records
    ]
    assert first.state_dict is not None and second.state_dict is not None
    assert all(torch.equal(first.state_dict[k], second.state_dict[k]) for k in first.state_dict)
    other = train(make_spec("moons", model={"hidden": [16], "dropout": 0.2}, epochs=3, seed=1))[1]
    assert other.series("train_loss") != a.series("train_loss")


def test_a_huge_learning_rate_diverges_without_emitting_a_nan() -> None:
    spec = make_spec("digits", optimizer={"name": "sgd", "lr": 100.0}, model={"hidden": [64, 64]}, epochs=10)
    result, recorder = train(spec)
    assert result.status == "diverged"
    assert "fold 0 epoch" in result.message and "lower the learning rate" in result.message
    assert "\n" not in result.message
    for record in recorder.records:
        assert all(math.isfinite(v) for v in record.metrics.values())
    assert len(recorder.records) < 10
    json.dumps(result.summary(), allow_nan=False)


def test_should_stop_stops_within_a_step() -> None:
    recorder = Recorder(stop_at_step=5)  # polled once per step: True on the 5th step of epoch 1
    result, _ = train(make_spec("digits", epochs=5, batch_size=16), callbacks=recorder)
    assert result.status == "stopped" and recorder.polls == 5
    assert recorder.records == []  # the interrupted epoch is never reported
    assert "stopped" in result.message


def test_early_stopping_stops_after_patience_and_restores_the_best_weights(tmp_path: Path) -> None:
    # a wide net on a small noisy training set overfits quickly: the validation loss turns up
    spec = make_spec(
        "moons",
        model={"hidden": [256, 256]},
        dataset={"n_samples": 200, "noise": 0.35, "label_noise": 0.3},
        optimizer={"lr": 0.01},
        epochs=60,
        early_stopping={"patience": 3},
    )
    result, recorder = train(spec, checkpoint_dir=tmp_path)
    fold = result.folds[0]
    assert fold.early_stopped and fold.epochs_run == fold.best_epoch + 3 < 60
    val_losses = recorder.series("val_loss")
    assert fold.best_metrics["val_loss"] == min(val_losses)
    assert fold.final_metrics["val_loss"] == val_losses[-1] > fold.best_metrics["val_loss"]
    saved = torch.load(tmp_path / "last.pt", weights_only=True)  # the run ends holding the best weights
    assert result.state_dict is not None
    assert all(torch.equal(saved["best"]["weights"][k], result.state_dict[k]) for k in result.state_dict)


def test_min_delta_ignores_small_improvements() -> None:
    spec = make_spec("moons", epochs=20, early_stopping={"patience": 2, "min_delta": 10.0})
    result, _ = train(spec)
    assert result.folds[0].epochs_run == 3 and result.folds[0].best_epoch == 1


def test_kfold_trains_k_folds_and_summarizes_mean_and_std() -> None:
    result, recorder = train(make_spec("iris", dataset={"validation": {"kfold": 3}}, epochs=3))
    assert recorder.started == {"folds": 3, "epochs": 3}
    assert len(result.folds) == 3 and sorted({r.fold for r in recorder.records}) == [0, 1, 2]
    summary = json.loads(json.dumps(result.summary(), allow_nan=False))
    assert len(summary["folds"]) == 3 and summary["epochs_run"] == 9
    accuracies = [f.final_metrics["val_accuracy"] for f in result.folds]
    assert summary["final_metrics"]["val_accuracy"] == pytest.approx(sum(accuracies) / 3)
    assert summary["final_metrics_std"]["val_accuracy"] >= 0


def test_holdout_summary_is_json_and_names_best_and_final() -> None:
    result, _ = train(make_spec("wine", epochs=4))
    summary = json.loads(json.dumps(result.summary(), allow_nan=False))
    assert summary["status"] == "completed" and summary["epochs_run"] == 4
    assert 1 <= summary["best_epoch"] <= 4 and "val_loss" in summary["best_metrics"]
    assert summary["final_metrics"]["val_loss"] > 0


def test_instrumentation_records_what_the_diagnosis_reads() -> None:
    spec = make_spec("moons", model={"hidden": [16, 16]}, instrumentation={"log_every_steps": 2}, epochs=2)
    _, recorder = train(spec)
    metrics = recorder.records[-1].metrics
    for name in ("grad_norm", "grad_norm_max", "grad_norm_first", "grad_norm_last", "update_ratio", "weight_norm"):
        assert metrics[name] > 0, name
    assert metrics["grad_norm_max"] >= metrics["grad_norm"]
    assert 0 <= metrics["dead_relu_fraction"] <= 1 and "saturated_fraction" not in metrics
    steps = recorder.records[-1].step_metrics
    assert [s for s, _ in steps] == list(range(recorder.records[0].step + 2, recorder.records[-1].step + 1, 2))
    assert all(set(m) == STEP_METRICS and all(math.isfinite(v) for v in m.values()) for _, m in steps)


def test_saturation_is_measured_for_sigmoid_and_tanh() -> None:
    # a huge learning rate pushes sigmoid pre-activations far past |z| = 5
    big = make_spec("digits", model={"hidden": [32], "activation": "sigmoid"}, optimizer={"lr": 1.0}, epochs=2)
    small = make_spec("digits", model={"hidden": [32], "activation": "tanh"}, optimizer={"lr": 1e-4}, epochs=2)
    assert train(big)[1].series("saturated_fraction")[-1] > 0.2
    assert train(small)[1].series("saturated_fraction")[-1] < 0.05


def test_instrumentation_off_records_losses_scores_lr_and_throughput_only() -> None:
    _, recorder = train(make_spec("moons", instrumentation={"enabled": False, "log_every_steps": 3}, epochs=1))
    record = recorder.records[0]
    assert set(record.metrics) == {
        *(f"{split}_{kind}" for split in ("train", "val", "test") for kind in ("loss", "accuracy")),
        "lr",
        "epoch_seconds",
        "samples_per_second",
    }
    assert record.step_metrics and all(m["step_grad_norm"] > 0 for _, m in record.step_metrics)


def test_augmentation_changes_training_but_not_evaluation_data() -> None:
    base = make_spec("digits", model={"kind": "cnn", "channels": [4], "hidden": []}, epochs=2)
    shifted = make_spec(
        "digits", model={"kind": "cnn", "channels": [4], "hidden": []}, augmentation={"pixel_shift": True}, epochs=2
    )
    noisy = make_spec("digits", augmentation={"gaussian_noise": 0.5}, epochs=2)
    plain_mlp = make_spec("digits", epochs=2)
    for augmented, reference in ((shifted, base), (noisy, plain_mlp)):
        result, records = train(augmented)
        assert records.series("train_loss") != train(reference)[1].series("train_loss")
        assert result.folds[0].best_metrics["val_accuracy"] > 0.8


def test_device_cpu_is_honoured_and_cuda_without_gpu_is_an_actionable_error() -> None:
    result, _ = train(make_spec("moons", device="cpu", precision="bf16", epochs=1))  # bf16 applies on CUDA only
    assert result.state_dict is not None and all(t.device.type == "cpu" for t in result.state_dict.values())
    assert result.summary()["device"] == "cpu" and result.summary()["cpu_threads"] == torch.get_num_threads()
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            train(make_spec("moons", device="cuda"))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_trains_on_the_gpu() -> None:
    result, recorder = train(make_spec("digits", device="cuda", precision="bf16", model={"norm": "batch"}, epochs=3))
    assert result.status == "completed" and recorder.series("val_accuracy")[-1] > 0.85
    assert result.state_dict is not None and all(t.device.type == "cuda" for t in result.state_dict.values())
    assert result.summary()["device"] == f"cuda:0 ({torch.cuda.get_device_name(0)})"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_matches_fp32_accuracy() -> None:
    fp32, _ = train(make_spec("digits", device="cuda", epochs=3))
    bf16, _ = train(make_spec("digits", device="cuda", precision="bf16", epochs=3))
    assert abs(fp32.folds[0].final_metrics["val_accuracy"] - bf16.folds[0].final_metrics["val_accuracy"]) < 0.05


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_trains_a_w2_epoch(data_dir: Path) -> None:
    """The bench's W2 workload (100,000×64, 512-wide BatchNorm MLP) for one epoch on the GPU."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 64)).astype(np.float32)
    y = (X @ rng.normal(size=(64, 10))).argmax(axis=1).astype(np.int64)
    np.savez(data_dir / "datasets" / "ds_00000000000000f2.npz", X=X, y=y, task=np.array("classification"))
    spec = make_spec(
        "ds_00000000000000f2",
        model={"hidden": [512, 512, 512], "norm": "batch"},
        batch_size=256,
        epochs=1,
        device="cuda",
    )
    result, recorder = train(spec, data_dir=data_dir)
    metrics = recorder.records[0].metrics
    assert result.status == "completed" and metrics["val_accuracy"] > 0.5
    print(
        f"W2 epoch on {torch.cuda.get_device_name()}: {metrics['epoch_seconds']:.2f} s, {metrics['samples_per_second']:.0f} samples/s"
    )
