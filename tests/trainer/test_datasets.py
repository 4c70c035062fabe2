"""Datasets, modifiers, splits and normalization: what the model gets to see, and what it must never see."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.builders import make_spec, train
from trainer import DatasetError
from trainer.datasets import load_dataset
from trainer.splits import fold_data
from trainwell.catalog import BUILTIN_DATASETS, SHIPPED_DATASETS, SYNTHETIC_DATASETS
from trainwell.spec import DatasetSpec


def _one_fold(**dataset: object):
    spec = DatasetSpec.model_validate({"name": "digits", **dataset})
    return next(fold_data(load_dataset(spec), spec))


@pytest.mark.parametrize("name", sorted(BUILTIN_DATASETS) + sorted(SYNTHETIC_DATASETS))
def test_every_dataset_trains_and_reports_its_tasks_scores(name: str) -> None:
    result, recorder = train(make_spec(name, epochs=2))
    assert result.status == "completed"
    metrics = recorder.records[-1].metrics
    if SHIPPED_DATASETS[name].task == "classification":
        assert {"train_accuracy", "val_accuracy", "test_accuracy"} <= set(metrics)
        assert metrics["val_accuracy"] > 0.5
    else:
        assert {"train_mae", "val_r2", "test_r2"} <= set(metrics)
    assert all(math.isfinite(v) for v in metrics.values())


def test_synthetic_options_change_the_data() -> None:
    small = load_dataset(DatasetSpec(name="spirals", n_samples=100, noise=0.0, seed=1))
    noisy = load_dataset(DatasetSpec(name="spirals", n_samples=100, noise=0.5, seed=1))
    other_seed = load_dataset(DatasetSpec(name="spirals", n_samples=100, noise=0.0, seed=2))
    assert small.X.shape == (100, 2) and small.num_classes == 2
    assert not np.allclose(small.X, noisy.X) and not np.allclose(small.X, other_seed.X)
    assert np.array_equal(small.X, load_dataset(DatasetSpec(name="spirals", n_samples=100, noise=0.0, seed=1)).X)


def test_digits_rows_are_8x8_images() -> None:
    digits = load_dataset(DatasetSpec(name="digits"))
    assert digits.image_shape == (1, 8, 8) and digits.X.shape[1] == 64 and digits.num_classes == 10


def test_test_split_is_cut_first_stratified_and_disjoint() -> None:
    spec = DatasetSpec(name="iris", test_fraction=0.2)
    folds = list(fold_data(load_dataset(spec), spec))
    assert len(folds) == 1
    fold = folds[0]
    assert len(fold.X_test) == 30  # 20% of 150
    assert np.bincount(fold.y_test).tolist() == [10, 10, 10]  # stratified
    rows = np.concatenate([fold.X_train, fold.X_val, fold.X_test])
    assert len(np.unique(rows.round(5), axis=0)) == len(np.unique(load_dataset(spec).X.round(5), axis=0))


def test_kfold_validation_parts_cover_the_non_test_rows_once() -> None:
    spec = DatasetSpec.model_validate({"name": "wine", "validation": {"kfold": 4}, "feature_norm": "none"})
    folds = list(fold_data(load_dataset(spec), spec))
    assert len(folds) == 4
    assert all(np.array_equal(f.X_test, folds[0].X_test) for f in folds)  # same test split for every fold
    assert sum(len(f.X_val) for f in folds) == len(folds[0].X_train) + len(folds[0].X_val)


def test_standard_and_minmax_use_training_statistics_only() -> None:
    standard = _one_fold(feature_norm="standard")
    varying = standard.X_train.std(axis=0) > 0
    assert np.allclose(standard.X_train.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(standard.X_train.std(axis=0)[varying], 1, atol=1e-4)
    minmax = _one_fold(feature_norm="minmax")
    assert minmax.X_train.min() == 0 and minmax.X_train.max() == 1
    raw = _one_fold(feature_norm="none")
    assert raw.X_train.max() == 16  # digits' pixel range, untouched


def test_normalization_matters_when_feature_scales_differ() -> None:
    # wine's features span 0.1 (hue) to 1,680 (proline): unnormalized, one feature drowns the others
    def accuracy(feature_norm: str) -> float:
        spec = make_spec("wine", dataset={"feature_norm": feature_norm}, optimizer={"lr": 0.01}, epochs=10)
        return train(spec)[0].folds[0].best_metrics["val_accuracy"]

    standard, minmax, raw = accuracy("standard"), accuracy("minmax"), accuracy("none")
    assert standard > 0.9 and minmax > 0.9
    assert raw < standard - 0.1


def test_zero_variance_features_stay_finite_and_val_loss_stays_sane() -> None:
    fold = _one_fold(feature_norm="standard")
    constant = fold.X_train.std(axis=0) == 0
    assert constant.sum() >= 3  # digits' corner pixels
    assert np.isfinite(fold.X_val).all() and np.isfinite(fold.X_test).all()
    result, recorder = train(make_spec("digits", model={"hidden": [64]}, epochs=8))
    # a pixel constant in training but not in validation: a naive z-score (x - mean) / (std + eps)
    # divides it by eps, and the validation loss explodes
    assert recorder.series("val_loss")[-1] < 0.5
    assert result.folds[0].best_metrics["val_accuracy"] > 0.9


def test_label_noise_touches_training_labels_only() -> None:
    clean, noisy = _one_fold(), _one_fold(label_noise=0.5)
    changed = (clean.y_train != noisy.y_train).mean()
    assert 0.35 < changed < 0.55  # half replaced, a tenth of those by the same class
    assert np.array_equal(clean.y_val, noisy.y_val) and np.array_equal(clean.y_test, noisy.y_test)


def test_train_subset_keeps_n_training_rows() -> None:
    fold = _one_fold(train_subset=50)
    assert len(fold.X_train) == 50 and len(fold.X_val) == len(_one_fold().X_val)


def test_test_shift_raises_test_loss_but_not_validation_loss() -> None:
    base = make_spec("moons", epochs=6, dataset={"n_samples": 400})
    shifted = make_spec("moons", epochs=6, dataset={"n_samples": 400, "test_shift": 2.0})
    _, clean = train(base)
    _, moved = train(shifted)
    assert moved.series("val_loss") == clean.series("val_loss")  # validation never sees the shift
    assert moved.series("test_loss")[-1] > 1.5 * clean.series("test_loss")[-1]
    assert moved.series("test_accuracy")[-1] < clean.series("test_accuracy")[-1]


def _write_npz(data_dir: Path, dataset_id: str, **arrays: np.ndarray) -> None:
    np.savez(data_dir / "datasets" / f"{dataset_id}.npz", **arrays)  # type: ignore[arg-type]


def test_uploaded_npz_classification_and_regression(data_dir: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    labels = np.where(X[:, 0] + X[:, 1] > 0, 7, 3).astype(np.int64)  # arbitrary label values are remapped
    _write_npz(data_dir, "ds_00000000000000aa", X=X, y=labels, task=np.array("classification"))
    _write_npz(data_dir, "ds_00000000000000bb", X=X, y=(2 * X[:, 2]).astype(np.float32), task=np.array("regression"))
    result, recorder = train(make_spec("ds_00000000000000aa", epochs=5), data_dir=data_dir)
    assert result.task == "classification" and recorder.series("val_accuracy")[-1] > 0.9
    result, recorder = train(make_spec("ds_00000000000000bb", epochs=5), data_dir=data_dir)
    assert result.task == "regression" and recorder.series("val_r2")[-1] > 0.8


def test_uploaded_dataset_errors_say_what_to_fix(data_dir: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        train(make_spec("ds_0123456789abcdef"), data_dir=data_dir)
    with pytest.raises(DatasetError, match="no data directory"):
        train(make_spec("ds_0123456789abcdef"))
    X = np.zeros((10, 2), dtype=np.float32)
    _write_npz(data_dir, "ds_00000000000000cc", X=X, y=np.array([object()] * 10), task=np.array("classification"))
    with pytest.raises(DatasetError, match="not a readable npz"):  # object arrays would need pickle: refused
        train(make_spec("ds_00000000000000cc"), data_dir=data_dir)
    (data_dir / "datasets" / "ds_00000000000000ee.npz").write_bytes(b"PK\x03\x04 truncated upload")
    with pytest.raises(DatasetError, match="not a readable npz"):
        train(make_spec("ds_00000000000000ee"), data_dir=data_dir)
    _write_npz(data_dir, "ds_00000000000000dd", X=X, y=np.zeros(10, dtype=np.float32), task=np.array("regression"))
    with pytest.raises(DatasetError, match="cross_entropy"):
        train(make_spec("ds_00000000000000dd", loss="cross_entropy"), data_dir=data_dir)
    with pytest.raises(DatasetError, match="image-shaped"):
        train(make_spec("ds_00000000000000dd", model={"kind": "cnn"}), data_dir=data_dir)
