"""Train/validation/test splits, the dataset modifiers and feature normalization.

Order matters and follows the textbook: the test split is cut first and never touched by training
or model selection; the rest is split into training and validation (holdout or k folds); modifiers
that simulate bad data (label noise, a small training set, covariate shift of the test split) and
normalization statistics only ever look at a fold's training rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from trainer.datasets import Dataset, DatasetError
from trainwell.spec import DatasetSpec, Holdout


@dataclass(frozen=True)
class FoldData:
    """One fold's arrays, normalized; regression targets standardized with `target_scale`."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    target_scale: float = 1.0  # regression: training std of the target, to report MAE in target units
    target_shift: float = 0.0  # regression: training mean of the target (a prediction is shift + scale * output)
    normalizer: Normalizer | None = None  # the features' training statistics, which a downloaded model carries
    test_rows: np.ndarray | None = None  # the dataset's row indices of the test split


def fold_count(spec: DatasetSpec) -> int:
    return 1 if isinstance(spec.validation, Holdout) else spec.validation.kfold


def fold_data(dataset: Dataset, spec: DatasetSpec) -> Iterator[FoldData]:
    """Yield each fold's data; a holdout job has exactly one fold."""
    classification = dataset.task == "classification"
    rows = np.arange(len(dataset.y))
    dev, test = train_test_split(
        rows, test_size=spec.test_fraction, random_state=spec.seed, stratify=_strata(dataset.y, classification, 2)
    )
    for fold, (train, val) in enumerate(_validation_splits(dataset.y, dev, spec, classification)):
        rng = np.random.default_rng([spec.seed, fold])
        X_train, y_train = dataset.X[train], dataset.y[train].copy()
        if spec.train_subset is not None and spec.train_subset < len(train):
            keep = np.sort(rng.permutation(len(train))[: spec.train_subset])
            X_train, y_train = X_train[keep], y_train[keep]
        if spec.label_noise > 0:
            y_train = _noisy_labels(y_train, spec.label_noise, dataset.num_classes, rng)
        X_test = dataset.X[test]
        if spec.test_shift != 0:
            # covariate shift in units of each feature's training std: a real train/test mismatch
            X_test = X_test + spec.test_shift * X_train.std(axis=0)
        normalize = Normalizer.fit(X_train, spec.feature_norm)
        y_val, y_test, mean, scale = dataset.y[val], dataset.y[test], 0.0, 1.0
        if not classification:
            # Targets are standardized with training statistics: diabetes' target has std ~77, so a raw
            # MSE starts near 30,000 and no default learning rate fits both it and the sine task.
            mean, scale = float(y_train.mean()), _safe_scale(np.array([y_train.std()]))[0]
            y_train, y_val, y_test = ((t - mean) / scale for t in (y_train, y_val, y_test))
        yield FoldData(
            normalize(X_train),
            _as_target(y_train, classification),
            normalize(dataset.X[val]),
            _as_target(y_val, classification),
            normalize(X_test),
            _as_target(y_test, classification),
            float(scale),
            float(mean),
            normalize,
            test,
        )


def _validation_splits(
    y: np.ndarray, dev: np.ndarray, spec: DatasetSpec, classification: bool
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if isinstance(spec.validation, Holdout):
        train, val = train_test_split(
            dev, test_size=spec.validation.holdout, random_state=spec.seed, stratify=_strata(y[dev], classification, 2)
        )
        yield train, val
        return
    k = spec.validation.kfold
    if len(dev) < k:
        raise DatasetError(f"{k} folds need at least {k} non-test rows; the dataset has {len(dev)}")
    stratify = _strata(y[dev], classification, k) is not None
    splitter = (
        StratifiedKFold(k, shuffle=True, random_state=spec.seed)
        if stratify
        else KFold(k, shuffle=True, random_state=spec.seed)
    )
    for train, val in splitter.split(dev, y[dev] if stratify else None):
        yield dev[train], dev[val]


def _strata(y: np.ndarray, classification: bool, per_class: int) -> np.ndarray | None:
    """Stratify by class when every class has enough rows for it; otherwise split at random."""
    if not classification:
        return None
    counts = np.bincount(y)
    return y if counts[counts > 0].min() >= per_class else None


def _noisy_labels(y: np.ndarray, fraction: float, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Replace `fraction` of the labels: by a random class, or (regression) by another row's target."""
    chosen = rng.permutation(len(y))[: round(fraction * len(y))]
    if num_classes:
        y[chosen] = rng.integers(0, num_classes, len(chosen))
    else:
        y[chosen] = rng.choice(y, len(chosen))
    return y


def _as_target(y: np.ndarray, classification: bool) -> np.ndarray:
    return y.astype(np.int64) if classification else y.astype(np.float32)


def _safe_scale(scale: np.ndarray) -> np.ndarray:
    # A constant feature (digits' corner pixels) has std 0; dividing by 1 leaves it finite. The same
    # threshold as scikit-learn's StandardScaler: anything within float rounding of 0 counts as 0.
    return np.where(scale < 10 * np.finfo(np.float32).eps, 1.0, scale)


@dataclass(frozen=True)
class Normalizer:
    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X_train: np.ndarray, kind: str) -> Normalizer:
        d = X_train.shape[1]
        if kind == "standard":
            return cls(X_train.mean(axis=0), _safe_scale(X_train.std(axis=0)))
        if kind == "minmax":
            low = X_train.min(axis=0)
            return cls(low, _safe_scale(X_train.max(axis=0) - low))
        return cls(np.zeros(d), np.ones(d))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.shift) / self.scale).astype(np.float32)
