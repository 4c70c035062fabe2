"""Simple facts about a job's data that the rules judge the curves against, measured on the job's own split.

The central one is the trivial predictor's loss: what a model that ignores the features scores on
the training labels (the class priors for classification, the mean or median for regression). "High
training loss" is judged against it, so the rules work the same on every dataset and loss.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.datasets import Dataset, load_dataset
from trainer.losses import HUBER_DELTA
from trainer.splits import FoldData, fold_data
from trainwell.model_size import DataShape, count_parameters
from trainwell.spec import JobSpec


@dataclass(frozen=True)
class DataFacts:
    task: str
    loss: str  # the loss the job minimized
    trivial_loss: float  # the trivial predictor's loss on the training rows, in the job's loss
    n_train: int
    n_val: int
    n_test: int
    n_features: int
    parameters: int
    steps_per_epoch: int
    feature_scale_ratio: float  # largest / smallest std of the non-constant training features the model sees
    feature_scale: float  # the largest of those stds (1 when the spec normalizes the features)
    shape: DataShape  # what a changed model's parameter count, and so the service's limit on it, depends on
    # Standard errors of the mean training, validation and test loss, from the per-row losses at the final
    # weights (weights.loss_standard_errors); None without them (no weights, or a run from the user's loop)
    train_se: float | None = None
    val_se: float | None = None
    test_se: float | None = None
    adversarial_auc: float | None = None  # filled in only when a mismatch is suspected (it costs a classifier)

    @property
    def test_gap_se(self) -> float | None:
        """Standard error of (test loss − validation loss): the two splits' rows are independent."""
        return None if self.val_se is None or self.test_se is None else math.hypot(self.val_se, self.test_se)


def load_fold(spec: JobSpec, data_dir: Path | None, fold: int = 0) -> tuple[Dataset, FoldData]:
    """The dataset and the arrays of `fold`, exactly as `fit` built them (same seeds, same modifiers)."""
    dataset = load_dataset(spec.dataset, data_dir)
    data = next(itertools.islice(fold_data(dataset, spec.dataset), fold, None))
    return dataset, data


def data_facts(spec: JobSpec, data_dir: Path | None, fold: int = 0) -> DataFacts:
    dataset, data = load_fold(spec, data_dir, fold)
    return facts_of(spec, dataset, data)


def facts_of(spec: JobSpec, dataset: Dataset, data: FoldData) -> DataFacts:
    loss = spec.resolved_loss(dataset.task)
    n_train = len(data.y_train)
    ratio, largest = _feature_scales(data, spec)
    shape = data_shape(dataset)
    return DataFacts(
        task=dataset.task,
        loss=loss,
        trivial_loss=trivial_loss(loss, data.y_train, dataset.num_classes),
        n_train=n_train,
        n_val=len(data.y_val),
        n_test=len(data.y_test),
        n_features=dataset.X.shape[1],
        parameters=count_parameters(spec, shape),
        steps_per_epoch=max(1, math.ceil(n_train / spec.batch_size)),
        feature_scale_ratio=ratio,
        feature_scale=largest,
        shape=shape,
    )


def data_shape(dataset: Dataset) -> DataShape:
    return DataShape(int(dataset.X.shape[1]), dataset.output_dim, dataset.image_shape)


def trivial_loss(loss: str, y: np.ndarray, num_classes: int) -> float:
    """The best loss of a constant prediction on the labels `y`, in the job's loss."""
    if num_classes:
        prior = np.bincount(y, minlength=num_classes) / len(y)
        if loss == "cross_entropy":
            present = prior[prior > 0]
            return float(-(present * np.log(present)).sum())  # the labels' entropy, in nats
        # MSE between softmax outputs and one-hot targets (mean over rows and classes), best at the prior:
        # E‖p - e_y‖² = 1 - Σp², divided by the number of classes
        return float((1 - (prior**2).sum()) / num_classes)
    y = y.astype(np.float64)
    if loss == "mae":
        return float(np.abs(y - np.median(y)).mean())
    if loss == "huber":  # the best constant lies between the median and the mean; take the better end
        return min(_huber(y - c) for c in (np.median(y), y.mean()))
    return float(y.var())


def _huber(error: np.ndarray) -> float:
    absolute = np.abs(error)
    quadratic = np.minimum(absolute, HUBER_DELTA)
    return float((0.5 * quadratic**2 + HUBER_DELTA * (absolute - quadratic)).mean())


def _feature_scales(data: FoldData, spec: JobSpec) -> tuple[float, float]:
    """(largest / smallest std, largest std) of the features the model sees: (1, 1) when the spec normalizes them."""
    if spec.dataset.feature_norm != "none":
        return 1.0, 1.0
    std = data.X_train.std(axis=0)
    varying = std[std > 10 * np.finfo(np.float32).eps]
    if not len(varying):
        return 1.0, 0.0
    return float(varying.max() / varying.min()), float(varying.max())
