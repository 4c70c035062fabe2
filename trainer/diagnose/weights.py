"""The trained model again, at the weights the job ended with, on the fold those weights were trained on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from trainer.datasets import Dataset
from trainer.diagnose.curvature import CurvatureBudget, analyze_critical_point
from trainer.fit import resolve_device
from trainer.losses import Objective
from trainer.models import build_model
from trainer.splits import FoldData
from trainwell.diagnosis import Curvature
from trainwell.spec import JobSpec

# Curvature is measured on at most this many training rows (a fixed, seeded subset): the mean loss of
# 2048 rows has a relative standard error of ~2% even for heavy-tailed per-row losses (cv ≈ 1), and a
# Hessian-vector product on it stays a few milliseconds for the models of the spec.
SUBSET_ROWS = 2048


def trained_model(spec: JobSpec, state_dict: dict[str, Tensor], dataset: Dataset, device: torch.device) -> nn.Module:
    model = build_model(spec.model, dataset.X.shape[1], dataset.output_dim, dataset.image_shape)
    model.load_state_dict(state_dict)
    # Evaluation mode: BatchNorm uses its running statistics and dropout is off, so the loss is a fixed
    # function of the weights (train-mode BatchNorm couples the rows of a batch; dropout is random).
    return model.to(device).eval()


def training_subset(data: FoldData, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return row_subset(data.X_train, data.y_train, seed)


def row_subset(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All the rows, or a fixed seeded subset of SUBSET_ROWS of them, in their original order."""
    rows = len(X)
    if rows <= SUBSET_ROWS:
        return X, y
    keep = np.sort(np.random.default_rng(seed).permutation(rows)[:SUBSET_ROWS])
    return X[keep], y[keep]


def job_curvature(
    spec: JobSpec,
    state_dict: dict[str, Tensor],
    dataset: Dataset,
    data: FoldData,
    *,
    loss_scale: float,
    budget: CurvatureBudget,
) -> Curvature:
    """Curvature of the training loss (without weight decay: the data's error surface) at `state_dict`."""
    if not all(torch.isfinite(value).all() for value in state_dict.values() if value.is_floating_point()):
        return Curvature(skipped_reason="the final weights are not finite")
    device = resolve_device(spec.device)
    model = trained_model(spec, state_dict, dataset, device)
    objective = Objective(spec.resolved_loss(dataset.task), dataset.task, dataset.num_classes, data.target_scale)
    X_np, y_np = training_subset(data, spec.seed)
    X, y = torch.from_numpy(X_np).to(device), torch.from_numpy(y_np).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    return analyze_critical_point(
        lambda: objective.loss(model(X), y),
        params,
        loss_scale=loss_scale,
        budget=budget,
        seed=spec.seed,
        subset_rows=len(X_np),
    )


@dataclass(frozen=True)
class LossErrors:
    """Standard errors of a split's mean loss, one per split (None for a split of fewer than 2 rows)."""

    train: float | None
    val: float | None
    test: float | None


@torch.no_grad()
def loss_standard_errors(spec: JobSpec, state_dict: dict[str, Tensor], dataset: Dataset, data: FoldData) -> LossErrors:
    """Standard error of each split's mean loss, from the per-row losses at `state_dict`: std / √rows.

    Measured, not assumed: a good classifier's row losses are mostly ~0 with a few confident mistakes, so
    one row can move a small split's mean loss by more than any rule of thumb allows for (one borderline
    row among 27 moves a cross-entropy by 0.1). The training rows' spread is read on the same fixed subset
    the curvature uses, and divided by the √ of all of them.
    """
    device = resolve_device(spec.device)
    model = trained_model(spec, state_dict, dataset, device)
    objective = Objective(spec.resolved_loss(dataset.task), dataset.task, dataset.num_classes, data.target_scale)

    def error(X: np.ndarray, y: np.ndarray, rows: int) -> float | None:
        if len(y) < 2:
            return None
        losses = objective.row_losses(model(torch.from_numpy(X).to(device)), torch.from_numpy(y).to(device)).double()
        value = (float(losses.var()) / rows) ** 0.5
        return value if math.isfinite(value) else None

    return LossErrors(
        train=error(*training_subset(data, spec.seed), len(data.y_train)),
        val=error(data.X_val, data.y_val, len(data.y_val)),
        test=error(data.X_test, data.y_test, len(data.y_test)),
    )
