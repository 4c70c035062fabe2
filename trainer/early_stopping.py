"""Model selection on the validation loss: the best epoch so far, and early stopping with patience.

The test split is never looked at here: it is reported each epoch but selects nothing.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor, nn

from trainwell.metrics import MetricName
from trainwell.spec import EarlyStopping


class BestEpoch:
    """Tracks the epoch of the lowest validation loss; with early stopping, also its weights and the patience."""

    def __init__(self, spec: EarlyStopping | None) -> None:
        self.patience = spec.patience if spec else None
        # Keras semantics: an improvement smaller than min_delta does not reset the patience
        self.min_delta = spec.min_delta if spec else 0.0
        self.loss = math.inf
        self.epoch = 0
        self.metrics: dict[str, float] = {}
        self.bad_epochs = 0
        self.weights: dict[str, Tensor] | None = None

    def update(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> bool:
        """Record an epoch; True when the patience has run out."""
        loss = metrics[MetricName.val_loss]
        if loss < self.loss - self.min_delta:
            self.loss, self.epoch, self.metrics, self.bad_epochs = loss, epoch, dict(metrics), 0
            if self.patience is not None:
                self.weights = {name: value.detach().clone() for name, value in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        return self.patience is not None and self.bad_epochs >= self.patience

    def restore_best(self, model: nn.Module) -> None:
        """Early stopping hands back the best weights, not the last ones."""
        if self.weights is not None:
            model.load_state_dict(self.weights)

    def state_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "epoch": self.epoch,
            "metrics": dict(self.metrics),
            "bad_epochs": self.bad_epochs,
            "weights": self.weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loss, self.epoch, self.metrics = state["loss"], state["epoch"], dict(state["metrics"])
        self.bad_epochs, self.weights = state["bad_epochs"], state["weights"]
