"""Optimizers and learning-rate schedules, straight from torch.optim: no hand-written update or lr formula.

Schedules step once per epoch; a warm-up is `LinearLR` from lr/10 chained to the schedule with
`SequentialLR`, so the lr of every epoch is whatever PyTorch's schedulers say it is.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim import lr_scheduler

from trainwell.spec import OptimizerSpec, ScheduleSpec

WARMUP_START_FACTOR = 0.1  # documented in ScheduleSpec.warmup_epochs: "linear warm-up from lr/10"
STEP_GAMMA = 0.1  # the ResNet paper's step decay
EXPONENTIAL_GAMMA = 0.95


def build_optimizer(spec: OptimizerSpec, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    params = list(parameters)
    if spec.name == "sgd":
        return torch.optim.SGD(
            params, lr=spec.lr, momentum=spec.momentum, nesterov=spec.nesterov, weight_decay=spec.weight_decay
        )
    if spec.name == "adagrad":
        return torch.optim.Adagrad(params, lr=spec.lr, weight_decay=spec.weight_decay)
    if spec.name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=spec.lr, alpha=spec.alpha, momentum=spec.momentum, weight_decay=spec.weight_decay
        )
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)
    if spec.name == "adamw":
        return torch.optim.AdamW(params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay)
    raise ValueError(f"unknown optimizer {spec.name!r}")


def build_schedule(spec: ScheduleSpec, optimizer: torch.optim.Optimizer, epochs: int) -> lr_scheduler.LRScheduler:
    warmup = min(spec.warmup_epochs, epochs)
    main = _main_schedule(spec, optimizer, max(1, epochs - warmup))
    if warmup == 0:
        return main
    ramp = lr_scheduler.LinearLR(optimizer, start_factor=WARMUP_START_FACTOR, end_factor=1.0, total_iters=warmup)
    return lr_scheduler.SequentialLR(optimizer, schedulers=[ramp, main], milestones=[warmup])


def _main_schedule(spec: ScheduleSpec, optimizer: torch.optim.Optimizer, epochs: int) -> lr_scheduler.LRScheduler:
    if spec.name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=spec.step_size, gamma=spec.gamma or STEP_GAMMA)
    if spec.name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=spec.gamma or EXPONENTIAL_GAMMA)
    if spec.name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=spec.min_lr)
    return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
