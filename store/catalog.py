"""The datasets every principal can use without uploading: scikit-learn's built-ins and the
synthetic generators, with their shapes — a static table, so that listing them never imports
scikit-learn or the trainer in the API process. tests/datasets/test_catalog.py checks it
against trainer/datasets.py."""

from __future__ import annotations

from trainwell.dataset import Dataset, DatasetKind
from trainwell.spec import BUILTIN_DATASETS, SYNTHETIC_DATASETS

# name: (rows, features, classes) — classes 0 for regression
BUILTIN_SHAPES = {
    "digits": (1797, 64, 10),
    "iris": (150, 4, 3),
    "wine": (178, 13, 3),
    "breast_cancer": (569, 30, 2),
    "diabetes": (442, 10, 0),
}
# name: (features, classes); rows are the spec's n_samples
SYNTHETIC_SHAPES = {
    "moons": (2, 2),
    "circles": (2, 2),
    "spirals": (2, 2),
    "blobs": (2, 3),
    "xor": (2, 2),
    "sine": (1, 0),
}


def shipped_datasets() -> list[Dataset]:
    builtin = [
        Dataset(
            id=name,
            name=name,
            kind=DatasetKind.builtin,
            task=task,
            rows=BUILTIN_SHAPES[name][0],
            n_features=BUILTIN_SHAPES[name][1],
            n_classes=BUILTIN_SHAPES[name][2] or None,
        )
        for name, task in BUILTIN_DATASETS.items()
    ]
    synthetic = [
        Dataset(
            id=name,
            name=name,
            kind=DatasetKind.synthetic,
            task=task,
            rows=None,
            n_features=SYNTHETIC_SHAPES[name][0],
            n_classes=SYNTHETIC_SHAPES[name][1] or None,
        )
        for name, task in SYNTHETIC_DATASETS.items()
    ]
    return builtin + synthetic
