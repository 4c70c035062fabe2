"""The non-finite guard's report: where the run blew up, and what to change.

The loop checks finiteness once per epoch, on values it syncs anyway (the guard must cost nothing
next to a hand-written loop); the detail below is only computed after something was found.
"""

from __future__ import annotations

import torch
from torch import Tensor

ADVICE = "lower the learning rate, clip gradients (optimizer.grad_clip) or normalize the features"


def divergence_message(
    *,
    fold: int,
    epoch: int,
    first_step: int,
    batches: list[tuple[int, int]],
    row_losses: Tensor,
    name: str,
    value: float,
) -> str:
    """One line: the first step whose training loss was NaN/Inf, or else the metric that overflowed."""
    where = f"fold {fold} epoch {epoch}"
    finite = torch.isfinite(row_losses)
    if not bool(finite.all()):
        row = int((~finite).nonzero()[0, 0])
        batch = next(i for i, (start, end) in enumerate(batches) if start <= row < end)
        loss = float(row_losses[slice(*batches[batch])].mean())
        return f"training loss became {loss} at {where} step {first_step + batch + 1}; {ADVICE}"
    return f"{name} became {value} at {where} (the weights overflowed); {ADVICE}"
