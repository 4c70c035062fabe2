"""Losses and scores: what is minimized, and what is reported per split.

Classification offers cross-entropy and MSE on softmax outputs against one-hot targets, so the two
error surfaces can be compared (MSE's gradient vanishes when a softmax saturates on the wrong class,
cross-entropy's does not). Regression targets arrive standardized; MAE is reported back in target units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from trainwell.metrics import MetricName
from trainwell.spec import Task

# Huber's delta on standardized targets: quadratic within one training std, linear beyond.
HUBER_DELTA = 1.0


class Objective:
    def __init__(self, loss: str, task: Task, num_classes: int, target_scale: float = 1.0) -> None:
        self.loss_name, self.task, self.num_classes, self.target_scale = loss, task, num_classes, target_scale

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """The mean loss of a batch, the one that is differentiated."""
        return self._loss(outputs, targets, "mean")

    def row_losses(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Each row's loss; their mean is `loss`."""
        return self._loss(outputs, targets, "none")

    def _loss(self, outputs: Tensor, targets: Tensor, reduction: str) -> Tensor:
        if self.task == "classification":
            if self.loss_name == "cross_entropy":
                return F.cross_entropy(outputs, targets, reduction=reduction)
            one_hot = F.one_hot(targets, self.num_classes).to(outputs.dtype)
            squared = F.mse_loss(outputs.softmax(dim=1), one_hot, reduction=reduction)
            return squared if reduction == "mean" else squared.mean(dim=1)
        prediction = outputs[:, 0]
        if self.loss_name == "mae":
            return F.l1_loss(prediction, targets, reduction=reduction)
        if self.loss_name == "huber":
            return F.huber_loss(prediction, targets, reduction=reduction, delta=HUBER_DELTA)
        return F.mse_loss(prediction, targets, reduction=reduction)

    def metrics(self, split: str, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Loss and score of one split (`train`, `val` or `test`) as 0-d tensors, synced by the caller."""
        outputs = outputs.float()
        result = {MetricName(f"{split}_loss").value: self.row_losses(outputs, targets).mean()}
        if self.task == "classification":
            correct = (outputs.argmax(dim=1) == targets).float().mean()
            result[MetricName(f"{split}_accuracy").value] = correct
            return result
        error = outputs[:, 0] - targets
        result[MetricName(f"{split}_mae").value] = error.abs().mean() * self.target_scale
        total = (targets - targets.mean()).square().sum()
        # R² of a split with one row (or constant targets) is undefined; report 0, a model no better than the mean
        r2 = torch.where(total > 0, 1 - error.square().sum() / total.clamp_min(1e-12), torch.zeros_like(total))
        result[MetricName(f"{split}_r2").value] = r2
        return result
