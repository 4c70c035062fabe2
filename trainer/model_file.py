"""The trained model as a file: the kept weights in safetensors, with everything needed to use them on raw rows.

safetensors (https://huggingface.co/docs/safetensors) holds tensors and a header of string → string
metadata and never unpickles code, so a downloaded file is safe to open. The header carries what a model
registry usually leaves to the user: the JobSpec the weights were trained with, the input features' names
and their training-split normalization, the class labels in the user's own strings (or the regression
target's name and scale), the epoch the weights come from, and the trainwell version that wrote them.
Every value is JSON text; floats written by `json` round-trip exactly.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import numpy as np
from safetensors.torch import save_file
from torch import Tensor

from trainer.callbacks import FitResult
from trainer.datasets import Dataset
from trainer.splits import FoldData, fold_data
from trainwell import __version__
from trainwell.model_card import ModelCard
from trainwell.model_formats import MODEL_FORMATS
from trainwell.spec import JobSpec

MODEL_FILE = MODEL_FORMATS["safetensors"].file_name


def model_card(
    spec: JobSpec,
    result: FitResult,
    dataset: Dataset,
    *,
    features: list[str] | None = None,
    labels: list[str] | None = None,
    target: str | None = None,
) -> ModelCard:
    """The card of a completed fit's kept weights. `features`, `labels` and `target` are an upload's own
    names; a built-in dataset's features are x0, x1, … and its labels the class indices."""
    data = _last_fold(dataset, spec)
    assert data.normalizer is not None
    fold = result.folds[-1]
    restored = spec.early_stopping is not None and fold.best_epoch > 0
    width = dataset.X.shape[1]
    return ModelCard(
        spec=spec,
        task=dataset.task,
        features=features or [f"x{index}" for index in range(width)],
        feature_norm=spec.dataset.feature_norm,
        feature_shift=[float(value) for value in np.asarray(data.normalizer.shift, dtype=np.float64)],
        feature_scale=[float(value) for value in np.asarray(data.normalizer.scale, dtype=np.float64)],
        labels=(labels or [str(index) for index in range(dataset.num_classes)])
        if dataset.task == "classification"
        else None,
        target=target,
        target_shift=data.target_shift,
        target_scale=data.target_scale,
        epoch=fold.best_epoch if restored else fold.epochs_run,
        metrics=dict(fold.best_metrics if restored else fold.final_metrics),
        input_dim=width,
        output_dim=dataset.output_dim,
        image_shape=dataset.image_shape,
        version=__version__,
    )


def _last_fold(dataset: Dataset, spec: JobSpec) -> FoldData:
    """The fold whose weights a fit keeps (the only one for a holdout job, the last for k-fold)."""
    (data,) = deque(fold_data(dataset, spec.dataset), maxlen=1)  # the earlier folds are not kept
    return data


def write_model_file(path: Path, state_dict: dict[str, Tensor], card: ModelCard) -> int:
    """Write the weights and their card to `path` atomically (a reader sees the whole file or none);
    returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in state_dict.items()}
    temporary = path.with_name(path.name + ".tmp")
    save_file(tensors, str(temporary), metadata=card.metadata())
    with open(temporary, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(temporary, path)
    return path.stat().st_size
