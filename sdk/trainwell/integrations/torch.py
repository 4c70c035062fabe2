"""Gradient norms of a plain PyTorch loop, gathered by hooks, logged with the epoch's metrics.

    with client.runs.start(task="classification", classes=10) as run:
        gradients = GradientNorms(model)
        for epoch in range(epochs):
            ...  # your loop: forward, loss.backward(), optimizer.step()
            run.log(epoch=epoch, train_loss=train_loss, val_loss=val_loss, **gradients.epoch_metrics())

A hook on each parameter (`register_post_accumulate_grad_hook`) adds the squared norm of its gradient
after every backward pass; `epoch_metrics()` turns the epoch's steps into the shared metric names the
diagnosis reads: grad_norm (the global norm, mean over steps), grad_norm_max, and grad_norm_first /
grad_norm_last (the first and last layer's, which tell vanishing from exploding gradients).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from trainwell.metrics import MetricName


class GradientNorms:
    """Per-step gradient norms of `model`'s trainable parameters, summarized per epoch."""

    def __init__(self, model: nn.Module) -> None:
        layers: dict[str, list[nn.Parameter]] = {}
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                layers.setdefault(name.rpartition(".")[0], []).append(parameter)
        if not layers:
            raise ValueError("the model has no trainable parameters")
        names = list(layers)
        self._first, self._last = names[0], names[-1]
        self._layer_of = {id(p): layer for layer, params in layers.items() for p in params}
        self._squares: dict[str, torch.Tensor] = {}  # this step's squared norm per layer, on the device
        self._steps: list[dict[str, torch.Tensor]] = []
        self._handles: list[RemovableHandle] = [
            p.register_post_accumulate_grad_hook(self._accumulate) for params in layers.values() for p in params
        ]
        self._parameters = sum(len(params) for params in layers.values())
        self._seen = 0

    def _accumulate(self, parameter: torch.Tensor) -> None:
        if parameter.grad is None:
            return
        layer = self._layer_of[id(parameter)]
        square = parameter.grad.detach().float().pow(2).sum()
        self._squares[layer] = self._squares[layer] + square if layer in self._squares else square
        self._seen += 1
        if self._seen == self._parameters:  # the last parameter of this backward pass
            self._steps.append(self._squares)
            self._squares, self._seen = {}, 0

    def epoch_metrics(self) -> dict[str, float]:
        """The epoch's gradient metrics (empty when no backward ran), and a fresh start for the next."""
        if self._squares:  # a pass in which some parameter got no gradient (an unused branch) ends here
            self._steps.append(self._squares)
            self._squares, self._seen = {}, 0
        steps, self._steps = self._steps, []
        if not steps:
            return {}
        # norms summed on the device each step; read back once, at the epoch's end
        layers = [self._first, self._last]
        totals = torch.stack([torch.stack(list(step.values())).sum().cpu() for step in steps]).sqrt().tolist()
        zero = torch.zeros(())
        ends = torch.stack([torch.stack([step.get(layer, zero).cpu() for layer in layers]) for step in steps]).sqrt()
        first, last = ends.mean(dim=0).tolist()
        return {
            MetricName.grad_norm.value: math.fsum(totals) / len(totals),
            MetricName.grad_norm_max.value: max(totals),
            MetricName.grad_norm_first.value: first,
            MetricName.grad_norm_last.value: last,
        }

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
