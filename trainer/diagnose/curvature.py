"""Saddle point or local minimum: the gradient and the Hessian's extreme eigenvalues at the final weights.

The textbook test (DESIGN.md): where the gradient is ~0, look at the Hessian's eigenvalues. All ≥ 0:
a local minimum. Some < 0: a saddle point, and the eigenvector of a negative eigenvalue is a way out,
which is tried here (both signs, a few step lengths) and reported.

Cost: a fixed cap on Hessian-vector products and a deadline (the caller passes max(25% of the job's
training time, 3 s): a fraction of what the run itself cost, with a floor so that a short run gets an
analysis too). The first product is timed; if the minimum useful work cannot fit,
the analysis is skipped with the reason. Everything is seeded, so a recomputation gives the same numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from trainer.diagnose.hessian import (
    DENSE_SIZE,
    BudgetExhausted,
    HessianOperator,
    dense_eigenvalues,
    power_iteration,
    smallest_eigenvalue,
)
from trainwell.diagnosis import CriticalPoint, Curvature, EscapeStep

MAX_PRODUCTS = 150  # power iteration ≤ 50, Lanczos ~ a few restarts of 20: enough on every model tried
MIN_PRODUCTS = 12  # below this neither eigenvalue estimate means anything: skip instead
# "Gradient small": one gradient step of length 1/λmax is guaranteed to lower the loss by at least
# ‖g‖²/(2·λmax) (the descent lemma, with λmax as the local smoothness). When even that guaranteed gain is
# under 0.1% of the task's loss scale (the trivial predictor's loss), descent has stalled at this resolution.
STALLED_GAIN = 1e-3
# "Clearly negative": below -5% of λmax. Trained networks keep a few tiny negative eigenvalues at a
# minimum (Sagun et al. 2017; Alain et al. 2019 measure them at ~0.1-1% of λmax); a saddle's direction
# down must be a sizeable fraction of the curvature scale before it is worth a step.
NEGATIVE_FRACTION = 0.05
ZERO_CURVATURE = 1e-8  # when λmax ≤ 0 there is no scale: below this, an eigenvalue is float32 rounding of 0
ESCAPE_STEPS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)  # times max(‖w‖, 1): a line search along the eigenvector


@dataclass(frozen=True)
class CurvatureBudget:
    seconds: float
    max_products: int = MAX_PRODUCTS

    @classmethod
    def for_job(cls, train_seconds: float) -> CurvatureBudget:
        """At most max(25% of the job's training time, 3 s): a fraction of the run's cost, with a floor."""
        return cls(max(0.25 * train_seconds, 3.0))


def analyze_critical_point(
    loss_of: Callable[[], Tensor],
    params: Sequence[Tensor],
    *,
    loss_scale: float,
    budget: CurvatureBudget,
    seed: int,
    subset_rows: int = 0,
) -> Curvature:
    """Classify the point `params` of the loss `loss_of()` (evaluated with the parameters as they are).

    `loss_scale` is what "small" is measured against (the trivial predictor's loss for a model).
    """
    started = time.perf_counter()
    deadline = started + budget.seconds
    loss = loss_of()
    operator = HessianOperator(loss, params, max_products=budget.max_products, deadline=deadline)
    gradient_norm = float(operator.gradient.detach().norm())
    device = operator.gradient.device
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(operator.size, generator=generator).to(device)

    def skipped(reason: str) -> Curvature:
        return Curvature(
            gradient_norm=gradient_norm,
            hvp_count=operator.products,
            seconds=time.perf_counter() - started,
            subset_rows=subset_rows,
            skipped_reason=reason,
        )

    if not math.isfinite(gradient_norm):
        return skipped("the gradient at the final weights is not finite")
    first = time.perf_counter()
    try:
        operator.rayleigh(start)  # times one product
    except BudgetExhausted:
        return skipped(f"the budget of {budget.seconds:.3g} s was spent before the first Hessian-vector product")
    per_product = time.perf_counter() - first
    if per_product * MIN_PRODUCTS > deadline - time.perf_counter():
        return skipped(
            f"one Hessian-vector product takes {per_product:.3g} s; {MIN_PRODUCTS} of them do not fit the "
            f"budget of {budget.seconds:.3g} s"
        )
    try:
        if operator.size <= DENSE_SIZE:  # exact, and immune to power iteration's trouble with ties like ±λ
            lambda_max, lambda_min, direction = dense_eigenvalues(operator, operator.size, device)
        elif (dominant := power_iteration(operator, start))[0] >= 0:
            lambda_max = dominant[0]
            lambda_min, direction, _ = smallest_eigenvalue(
                operator, operator.size, lambda_max, seed=seed, device=device
            )
        else:  # a negative eigenvalue dominates: it is λmin; λmax is the top of H - λmin·I, shifted back
            lambda_min, direction = dominant
            lambda_max, _ = power_iteration(operator, start, shift=lambda_min)
    except BudgetExhausted:
        return skipped(f"the budget of {budget.max_products} products or {budget.seconds:.3g} s ran out")
    lambda_min = min(lambda_min, lambda_max)
    point = classify(gradient_norm, lambda_max, lambda_min, loss_scale=loss_scale)
    escape = escape_step(loss_of, params, direction, loss.item()) if point == CriticalPoint.saddle_point else None
    return Curvature(
        gradient_norm=gradient_norm,
        lambda_max=lambda_max,
        lambda_min=lambda_min,
        critical_point=point,
        escape=escape,
        hvp_count=operator.products,
        seconds=time.perf_counter() - started,
        subset_rows=subset_rows,
    )


def guaranteed_gain(gradient_norm: float, lambda_max: float) -> float:
    """The descent lemma's lower bound on what one gradient step of length 1/λmax gains."""
    return gradient_norm**2 / (2 * max(lambda_max, 1e-12))


def classify(gradient_norm: float, lambda_max: float, lambda_min: float, *, loss_scale: float) -> CriticalPoint:
    if guaranteed_gain(gradient_norm, lambda_max) > STALLED_GAIN * loss_scale:
        return CriticalPoint.not_critical
    negative = lambda_min < -NEGATIVE_FRACTION * lambda_max if lambda_max > 0 else lambda_min < -ZERO_CURVATURE
    if negative:
        return CriticalPoint.saddle_point
    return CriticalPoint.local_minimum


@torch.no_grad()
def escape_step(
    loss_of: Callable[[], Tensor], params: Sequence[Tensor], direction: Tensor, before: float
) -> EscapeStep:
    """Step along ±`direction` (a unit vector over all parameters) and keep the step that lowers the loss most."""
    originals = [p.detach().clone() for p in params]
    scale = max(float(torch.cat([p.reshape(-1) for p in originals]).norm()), 1.0)
    best = EscapeStep(step=0.0, loss_before=before, loss_after=before)
    try:
        for length in ESCAPE_STEPS:
            for sign in (1.0, -1.0):
                step = sign * length * scale
                _move(params, originals, direction, step)
                after = float(loss_of())
                if math.isfinite(after) and after < best.loss_after:
                    best = EscapeStep(step=step, loss_before=before, loss_after=after)
    finally:
        _move(params, originals, direction, 0.0)
    return best


def _move(params: Sequence[Tensor], originals: list[Tensor], direction: Tensor, step: float) -> None:
    offset = 0
    for param, original in zip(params, originals, strict=True):
        count = param.numel()
        param.copy_(original + step * direction[offset : offset + count].view_as(param))
        offset += count
