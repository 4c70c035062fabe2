"""Hessian-vector products by double backward, and the Hessian's extreme eigenvalues from them.

The Hessian of a model with p parameters is p×p and never formed: autograd gives H·v for the cost
of about two backward passes (Pearlmutter 1994), by differentiating g·v where g = ∇L was built with
`create_graph=True`. The first-order graph is built once and reused by every product.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
from threadpoolctl import threadpool_limits
from torch import Tensor

# Power iteration stops when the Rayleigh quotient changes by less than this fraction of itself:
# λmax is reported as a sharpness, where three significant digits are plenty.
POWER_TOLERANCE = 1e-3
# ARPACK's tolerance is relative to the eigenvalue it reports. The Lanczos run below works on H + λmax·I,
# whose eigenvalues are all about λmax in size, so this is an absolute accuracy of ~0.1% of λmax on λmin.
LANCZOS_TOLERANCE = 1e-3
LANCZOS_VECTORS = 20  # ARPACK's ncv: the Krylov subspace kept between restarts
# Up to this many parameters the Hessian is formed column by column (one product each) and solved
# exactly: cheaper than Lanczos, and ARPACK needs a space larger than its Krylov subspace anyway.
DENSE_SIZE = 32


class BudgetExhausted(Exception):
    """Raised by a product that would exceed the cap on products or the deadline."""


class HessianOperator:
    """H·v at fixed weights for a scalar `loss` built from `params`, with a cap on products and time."""

    def __init__(self, loss: Tensor, params: Sequence[Tensor], *, max_products: int, deadline: float) -> None:
        self.params = params
        grads = torch.autograd.grad(loss, params, create_graph=True)
        self.gradient = torch.cat([g.reshape(-1) for g in grads])
        self.size = self.gradient.numel()
        self.max_products, self.deadline = max_products, deadline
        self.products = 0

    def __call__(self, vector: Tensor) -> Tensor:
        if self.products >= self.max_products or time.perf_counter() > self.deadline:
            raise BudgetExhausted
        self.products += 1
        # the gradient of the scalar g·v, not grad(g, grad_outputs=v): the latter imports sympy on first use
        # (torch's shape checks of grad_outputs), a one-off second per process
        columns = torch.autograd.grad(self.gradient @ vector, self.params, retain_graph=True)
        return torch.cat([c.reshape(-1) for c in columns]).detach()

    def rayleigh(self, vector: Tensor) -> float:
        """vᵀHv / vᵀv: the curvature along `vector`."""
        return float(vector @ self(vector) / (vector @ vector).clamp_min(1e-30))


def power_iteration(
    hvp: Callable[[Tensor], Tensor], start: Tensor, *, shift: float = 0.0, max_iterations: int = 50
) -> tuple[float, Tensor]:
    """The eigenvalue of H - shift·I of largest magnitude, plus `shift`, and its unit eigenvector.

    A negative eigenvalue can dominate (a saddle whose |λmin| > λmax): the caller checks the sign.
    An exhausted budget ends the iteration with the estimate so far (once at least one product ran).
    """
    vector = start / start.norm()
    value = float("nan")
    for _ in range(max_iterations):
        try:
            product = hvp(vector) - shift * vector
        except BudgetExhausted:
            if value != value:  # not a single product: nothing to report
                raise
            break
        previous, value = value, float(vector @ product)
        norm = product.norm()
        if float(norm) == 0.0:
            break  # H - shift·I annihilates the vector: an eigenvalue 0 of it, exactly
        vector = product / norm
        if abs(value - previous) <= POWER_TOLERANCE * abs(value):
            break
    return value + shift, vector


def smallest_eigenvalue(
    hvp: Callable[[Tensor], Tensor], size: int, lambda_max: float, *, seed: int, device: torch.device
) -> tuple[float, Tensor, bool]:
    """λmin and its unit eigenvector by Lanczos (ARPACK `eigsh`, which='SA') on H + λmax·I.

    Returns (λmin, vector, converged). When the budget runs out first, the answer is the lowest
    Rayleigh quotient among the vectors ARPACK tried: an upper bound on λmin, so a clearly negative
    value is still proof of a negative eigenvalue, while a miss is reported as not converged.
    """
    shift = max(lambda_max, 0.0)
    best: list[tuple[float, np.ndarray]] = []

    def matvec(x: np.ndarray) -> np.ndarray:
        vector = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32).reshape(-1)).to(device)
        product = hvp(vector)
        quotient = float(vector @ product / (vector @ vector).clamp_min(1e-30))
        if not best or quotient < best[0][0]:
            best[:] = [(quotient, x.reshape(-1).copy())]
        return (product.double().cpu().numpy() + shift * x.reshape(-1)).astype(np.float64)

    operator = LinearOperator((size, size), matvec=matvec, dtype=np.float64)
    start = np.random.default_rng(seed).standard_normal(size)
    try:
        # ARPACK's own work is a few memory-bound vector operations per product: BLAS threads only add
        # spinning, which on a busy machine makes it 10× slower than the products themselves.
        with threadpool_limits(limits=1, user_api="blas"):
            values, vectors = eigsh(
                operator, k=1, which="SA", v0=start, ncv=min(LANCZOS_VECTORS, size), tol=LANCZOS_TOLERANCE
            )
        value, vector, converged = float(values[0]) - shift, vectors[:, 0], True
    except (BudgetExhausted, ArpackNoConvergence):
        if not best:
            raise BudgetExhausted from None
        value, vector, converged = best[0][0], best[0][1], False
    direction = torch.from_numpy(np.asarray(vector, dtype=np.float32)).to(device)
    return value, direction / direction.norm().clamp_min(1e-30), converged


def dense_eigenvalues(hvp: Callable[[Tensor], Tensor], size: int, device: torch.device) -> tuple[float, float, Tensor]:
    """(λmax, λmin, λmin's unit eigenvector) of a small Hessian formed column by column (one product each)."""
    identity = torch.eye(size, device=device)
    hessian = torch.stack([hvp(column) for column in identity]).double().cpu().numpy()
    values, vectors = np.linalg.eigh((hessian + hessian.T) / 2)
    direction = torch.from_numpy(vectors[:, 0].astype(np.float32)).to(device)
    return float(values[-1]), float(values[0]), direction
