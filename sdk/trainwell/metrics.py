"""Metric names: one list shared by the trainer, the store, the API, the SDK and the dashboard.

Epoch metrics are recorded once per epoch (per fold); step metrics every
`instrumentation.log_every_steps` steps. The store refuses any other name, but a run's own
`custom/…` series (is_metric_name).
"""

from __future__ import annotations

import re
from enum import StrEnum


class MetricName(StrEnum):
    # losses and scores per split; classification reports accuracy, regression MAE and R²
    train_loss = "train_loss"
    val_loss = "val_loss"
    test_loss = "test_loss"
    train_accuracy = "train_accuracy"
    val_accuracy = "val_accuracy"
    test_accuracy = "test_accuracy"
    train_mae = "train_mae"
    val_mae = "val_mae"
    test_mae = "test_mae"
    train_r2 = "train_r2"
    val_r2 = "val_r2"
    test_r2 = "test_r2"
    # optimization state
    lr = "lr"
    grad_norm = "grad_norm"  # global gradient norm, mean over the epoch's steps
    grad_norm_max = "grad_norm_max"  # ... and its maximum
    grad_norm_first = "grad_norm_first"  # first layer's gradient norm, epoch mean
    grad_norm_last = "grad_norm_last"  # last layer's gradient norm, epoch mean
    update_ratio = "update_ratio"  # ||Δw|| / ||w|| over the epoch
    weight_norm = "weight_norm"
    dead_relu_fraction = "dead_relu_fraction"
    saturated_fraction = "saturated_fraction"  # sigmoid/tanh pre-activations with |z| >= 5
    # throughput
    epoch_seconds = "epoch_seconds"
    samples_per_second = "samples_per_second"
    # per-step series
    step_loss = "step_loss"
    step_grad_norm = "step_grad_norm"
    step_lr = "step_lr"


METRIC_NAMES = frozenset(m.value for m in MetricName)
STEP_METRICS = frozenset({MetricName.step_loss, MetricName.step_grad_norm, MetricName.step_lr})

# A run logged from the user's own loop (trainwell.run) may add its own series under this prefix. The store's
# name column is 64 characters, and a bounded alphabet keeps names safe in URLs, CSV headers and the dashboard.
CUSTOM_PREFIX = "custom/"
CUSTOM_NAME = re.compile(r"^custom/[A-Za-z0-9_.\-/]{1,57}$")


def is_metric_name(name: str) -> bool:
    """A shared metric name, or a run's own `custom/…` one."""
    return name in METRIC_NAMES or CUSTOM_NAME.match(name) is not None
