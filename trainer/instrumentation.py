"""What the diagnosis reads besides the losses: gradient, update, weight and activation statistics.

Cost is the design constraint (≤1.15× a hand-written loop, bench/trainer.py). Per step there is one fused
norm of all gradients, written into a preallocated device buffer; nothing is synced until the
epoch ends. Activation statistics come from forward hooks on the activation modules that are
attached for the first step of each epoch only, so they read one real training batch per epoch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from trainwell.metrics import MetricName

# A sigmoid/tanh input with |z| >= 5 has a local slope below 0.007 (sigmoid) / 0.0002 (tanh): saturated.
SATURATION_THRESHOLD = 5.0


def norms_of(tensors: list[Tensor] | tuple[Tensor, ...]) -> Tensor:
    """Each tensor's L2 norm, stacked; the global norm is the norm of this vector."""
    # torch._foreach_norm is what clip_grad_norm_ itself uses: one fused kernel per dtype/device group.
    return torch.stack(torch._foreach_norm(tensors))


class Instruments:
    def __init__(self, model: nn.Module, steps_per_epoch: int, device: torch.device) -> None:
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
        weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
        position = {id(p): i for i, p in enumerate(self.params)}
        self.first_layer, self.last_layer = position[id(weights[0])], position[id(weights[-1])]
        self.norms = torch.zeros(steps_per_epoch, len(self.params), device=device)
        self.activations = [m for m in model.modules() if isinstance(m, nn.ReLU | nn.Sigmoid | nn.Tanh)]
        self.handles: list[RemovableHandle] = []
        self.start_weights: list[Tensor] = []
        self.dead = self.saturated = torch.zeros((), device=device)
        self.units = self.preactivations = 0

    # -- per epoch -------------------------------------------------------------------------------

    def start_epoch(self) -> None:
        self.start_weights = [p.detach().clone() for p in self.params]
        self.dead = torch.zeros_like(self.dead)
        self.saturated = torch.zeros_like(self.saturated)
        self.units = self.preactivations = 0
        self.handles = [m.register_forward_hook(self._record_activations) for m in self.activations]

    def remove_hooks(self) -> None:
        """Called after the epoch's first forward pass: one batch per epoch is enough (and cheap)."""
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _record_activations(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if isinstance(module, nn.ReLU):
            # a unit (feature, or channel×position) is dead when it is 0 for every row of the batch
            alive = (output.detach() > 0).flatten(1).any(dim=0)
            self.dead = self.dead + (~alive).sum()
            self.units += alive.numel()
        else:
            z = inputs[0].detach()
            self.saturated = self.saturated + (z.abs() >= SATURATION_THRESHOLD).sum()
            self.preactivations += z.numel()

    # -- per step --------------------------------------------------------------------------------

    def record_gradients(self, step_in_epoch: int, grads: list[Tensor]) -> Tensor:
        """Store this step's per-tensor gradient norms; returns them (for clipping)."""
        return torch.stack(torch._foreach_norm(grads), out=self.norms[step_in_epoch])

    # -- epoch end -------------------------------------------------------------------------------

    def epoch_metrics(self, steps: int) -> dict[str, Tensor]:
        norms = self.norms[:steps]
        global_norms = torch.linalg.vector_norm(norms, dim=1)
        weights = [p.detach() for p in self.params]
        weight_norm = torch.linalg.vector_norm(norms_of(weights))
        start_norm = torch.linalg.vector_norm(norms_of(self.start_weights))
        update = torch.linalg.vector_norm(norms_of(torch._foreach_sub(weights, self.start_weights)))
        metrics = {
            MetricName.grad_norm.value: global_norms.mean(),
            MetricName.grad_norm_max.value: global_norms.max(),
            MetricName.grad_norm_first.value: norms[:, self.first_layer].mean(),
            MetricName.grad_norm_last.value: norms[:, self.last_layer].mean(),
            MetricName.update_ratio.value: update / start_norm.clamp_min(1e-12),
            MetricName.weight_norm.value: weight_norm,
        }
        if self.units:
            metrics[MetricName.dead_relu_fraction.value] = self.dead / self.units
        if self.preactivations:
            metrics[MetricName.saturated_fraction.value] = self.saturated / self.preactivations
        return metrics

    def step_norm(self, step_in_epoch: int) -> Tensor:
        return torch.linalg.vector_norm(self.norms[step_in_epoch])
