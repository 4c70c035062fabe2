"""Datasets of the job spec as in-memory arrays: scikit-learn's shipped ones, synthetic generators, uploads.

Everything here is numpy and deterministic in `DatasetSpec.seed`; tensors and devices are the
loop's business. No dataset is downloaded: the built-ins ship inside scikit-learn.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn import datasets as sk

from trainwell.catalog import BUILTIN_DATASETS, DEFAULT_N_SAMPLES, SHIPPED_DATASETS, SYNTHETIC_DATASETS
from trainwell.spec import UPLOADED_DATASET_ID, DatasetSpec, Task

# Default noise per generator: enough overlap that the task is not trivial, little enough that a
# small MLP can reach high accuracy in a few epochs (checked by the tests).
DEFAULT_NOISE = {"moons": 0.1, "circles": 0.05, "spirals": 0.05, "blobs": 1.0, "xor": 0.1, "sine": 0.1}


class DatasetError(ValueError):
    """A dataset that cannot be loaded; the message says what to fix."""


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray  # float32 [n, d]
    y: np.ndarray  # int64 class index in [0, num_classes) or float32 target
    task: Task
    num_classes: int  # 0 for regression
    image_shape: tuple[int, int, int] | None = None  # (channels, height, width) when rows are images

    @property
    def output_dim(self) -> int:
        return self.num_classes if self.task == "classification" else 1


def load_dataset(spec: DatasetSpec, data_dir: Path | None = None) -> Dataset:
    """The full dataset named by `spec.name`, before any split or modifier."""
    if spec.name in BUILTIN_DATASETS:
        return _builtin(spec.name)
    if spec.name in SYNTHETIC_DATASETS:
        return _synthetic(spec.name, spec.n_samples or DEFAULT_N_SAMPLES, _noise(spec), spec.seed)
    if UPLOADED_DATASET_ID.match(spec.name):
        return load_uploaded(spec.name, data_dir)
    raise DatasetError(f"unknown dataset {spec.name!r}")


def _noise(spec: DatasetSpec) -> float:
    return DEFAULT_NOISE[spec.name] if spec.noise is None else spec.noise


def _builtin(name: str) -> Dataset:
    loaders = {
        "digits": sk.load_digits,
        "iris": sk.load_iris,
        "wine": sk.load_wine,
        "breast_cancer": sk.load_breast_cancer,
        "diabetes": sk.load_diabetes,
    }
    X, y = loaders[name](return_X_y=True)
    if SHIPPED_DATASETS[name].task == "regression":
        return Dataset(X.astype(np.float32), y.astype(np.float32), "regression", 0)
    return _classification(X, y, SHIPPED_DATASETS[name].image)


def _classification(X: np.ndarray, y: np.ndarray, image_shape: tuple[int, int, int] | None = None) -> Dataset:
    classes, index = np.unique(y, return_inverse=True)
    return Dataset(X.astype(np.float32), index.astype(np.int64), "classification", len(classes), image_shape)


def _synthetic(name: str, n: int, noise: float, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    if name == "moons":
        X, y = sk.make_moons(n, noise=noise, random_state=seed)
    elif name == "circles":
        # factor 0.5: the inner circle has half the radius, the textbook picture no line can split
        X, y = sk.make_circles(n, noise=noise, factor=0.5, random_state=seed)
    elif name == "blobs":
        X, y = sk.make_blobs(n, n_features=2, centers=3, cluster_std=noise, random_state=seed)
    elif name == "spirals":
        # two interleaved arms of 1.5 turns each (radius grows with the angle)
        y = np.arange(n) % 2
        t = rng.uniform(0.05, 1.0, n)
        angle = 3 * np.pi * t + np.pi * y
        X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) + rng.normal(0, noise, (n, 2))
    elif name == "xor":
        X = rng.uniform(-1, 1, (n, 2))
        y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
        X = X + rng.normal(0, noise, (n, 2))
    elif name == "sine":
        x = rng.uniform(-3, 3, (n, 1))
        target = np.sin(x[:, 0]) + rng.normal(0, noise, n)
        return Dataset(x.astype(np.float32), target.astype(np.float32), "regression", 0)
    else:
        raise DatasetError(f"unknown synthetic dataset {name!r}")
    return _classification(X, y)


def load_uploaded(dataset_id: str, data_dir: Path | None) -> Dataset:
    """An uploaded dataset: `data_dir/datasets/<id>.npz` with arrays X [n, d], y [n] and task (0-d str).

    Read with allow_pickle=False: an uploaded file must never run code when loaded.
    """
    if data_dir is None:
        raise DatasetError(f"dataset {dataset_id!r} is an upload, but this worker has no data directory configured")
    path = Path(data_dir) / "datasets" / f"{dataset_id}.npz"
    if not path.is_file():
        raise DatasetError(f"uploaded dataset {dataset_id!r} not found; upload it with POST /v1/datasets first")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"X", "y", "task"} - set(npz.files)
            if missing:
                raise DatasetError(f"uploaded dataset {dataset_id!r} lacks array(s) {', '.join(sorted(missing))}")
            X, y, task = npz["X"], npz["y"], str(npz["task"])
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        if isinstance(error, DatasetError):
            raise
        raise DatasetError(f"uploaded dataset {dataset_id!r} is not a readable npz file: {error}") from error
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(X) < 2:
        raise DatasetError(f"uploaded dataset {dataset_id!r} must hold X [n, d] and y [n]; got {X.shape} and {y.shape}")
    if not np.isfinite(X).all():
        raise DatasetError(f"uploaded dataset {dataset_id!r} has NaN or infinite features")
    if task == "classification":
        if len(np.unique(y)) < 2:
            raise DatasetError(f"uploaded dataset {dataset_id!r} has a single class; classification needs two or more")
        return _classification(X, y)
    if task == "regression":
        if not np.isfinite(y).all():
            raise DatasetError(f"uploaded dataset {dataset_id!r} has NaN or infinite targets")
        return Dataset(X.astype(np.float32), y.astype(np.float32), "regression", 0)
    raise DatasetError(f"uploaded dataset {dataset_id!r} has task {task!r}; expected classification or regression")
