"""The datasets every principal can use without uploading, and what is known about each.

One table: the spec validator reads the names and tasks, the parameter counter the shapes, the
API's dataset listing the rows and classes, and tests/datasets/test_catalog.py checks every entry
against what the trainer really loads. A static table, so that the API never imports scikit-learn
or the trainer to answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Task = Literal["classification", "regression"]
DEFAULT_N_SAMPLES = 1000  # a synthetic dataset's rows when the spec names no n_samples
DatasetSource = Literal["builtin", "synthetic"]


@dataclass(frozen=True)
class ShippedDataset:
    name: str
    source: DatasetSource  # builtin: shipped with scikit-learn; synthetic: generated from n_samples, noise, seed
    task: Task
    features: int
    classes: int  # 0 for regression
    rows: int | None = None  # None for synthetic datasets: their size is the spec's n_samples
    image: tuple[int, int, int] | None = None  # (channels, height, width) when the rows are images

    @property
    def outputs(self) -> int:
        """The model's output width: one logit per class, or one value."""
        return self.classes if self.task == "classification" else 1


SHIPPED_DATASETS: dict[str, ShippedDataset] = {
    d.name: d
    for d in (
        ShippedDataset("digits", "builtin", "classification", 64, 10, rows=1797, image=(1, 8, 8)),
        ShippedDataset("iris", "builtin", "classification", 4, 3, rows=150),
        ShippedDataset("wine", "builtin", "classification", 13, 3, rows=178),
        ShippedDataset("breast_cancer", "builtin", "classification", 30, 2, rows=569),
        ShippedDataset("diabetes", "builtin", "regression", 10, 0, rows=442),
        ShippedDataset("moons", "synthetic", "classification", 2, 2),
        ShippedDataset("circles", "synthetic", "classification", 2, 2),
        ShippedDataset("spirals", "synthetic", "classification", 2, 2),
        ShippedDataset("blobs", "synthetic", "classification", 2, 3),
        ShippedDataset("xor", "synthetic", "classification", 2, 2),
        ShippedDataset("sine", "synthetic", "regression", 1, 0),
    )
}
BUILTIN_DATASETS = tuple(name for name, d in SHIPPED_DATASETS.items() if d.source == "builtin")
SYNTHETIC_DATASETS = tuple(name for name, d in SHIPPED_DATASETS.items() if d.source == "synthetic")
IMAGE_DATASETS = tuple(name for name, d in SHIPPED_DATASETS.items() if d.image is not None)

CLASSIFICATION_LOSSES = ("cross_entropy", "mse")
REGRESSION_LOSSES = ("mse", "mae", "huber")


@dataclass(frozen=True)
class Incompatibility:
    """Why a spec cannot train on a dataset: the spec field to change, and what to change it to."""

    field: str
    message: str


def incompatibility(
    *, dataset: str, task: Task, images: bool, loss: str | None, model_kind: str
) -> Incompatibility | None:
    """The one check of a spec against its dataset's task and shape (loss ↔ task, cnn ↔ images).

    The spec validator calls it for shipped datasets, the API for uploads (whose task it alone
    knows), and the trainer for whatever it loads, so all three say the same thing.
    """
    allowed = CLASSIFICATION_LOSSES if task == "classification" else REGRESSION_LOSSES
    if loss is not None and loss not in allowed:
        return Incompatibility(
            "loss", f"{loss!r} does not apply to {task} dataset {dataset!r}; allowed: {', '.join(allowed)}"
        )
    if model_kind == "cnn" and not images:
        return Incompatibility(
            "model.kind",
            f"'cnn' needs image-shaped data and {dataset!r} is a table; use 'mlp' "
            f"(image datasets: {', '.join(IMAGE_DATASETS)})",
        )
    return None
