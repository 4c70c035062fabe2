"""The loss landscape of a job: the training loss on a line and on a plane through its weights.

The line is θ(α) = (1−α)·θ_initial + α·θ_final (Goodfellow et al., "Qualitatively characterizing neural
network optimization problems", ICLR 2015): a bump between α = 0 and α = 1 means the run climbed over a
barrier; a monotone descent that keeps falling past α = 1 means it stopped early. The plane is
θ_final + x·d1 + y·d2 with two filter-normalized random directions (Li et al., "Visualizing the Loss
Landscape of Neural Nets", NeurIPS 2018, §4): scaling each filter of a direction to the norm of the same
filter of θ_final makes x = 1 a step as large as the weights themselves, whatever their scale, so the
sharpness of two networks can be compared on the same axes.

Losses are the job's data loss (no weight decay) in evaluation mode, on at most SUBSET_ROWS training
and SUBSET_ROWS validation rows. The model is built once; each point's weights are swapped in with
`torch.func.functional_call`, and all the losses are read back with one host sync.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

from trainer.checkpoint import rng_state, set_rng_state
from trainer.diagnose.facts import load_fold
from trainer.diagnose.weights import row_subset, trained_model, training_subset
from trainer.fit import resolve_device
from trainer.fold import initial_model
from trainer.losses import Objective
from trainwell.landscape import LossLine, LossSurface
from trainwell.spec import JobSpec

# The directions' generator is seeded apart from the fold's own seed ([seed, fold]), so they are not drawn
# from the very random numbers the initial weights were.
DIRECTION_STREAM = 1
# Li et al.'s reference code guards the rescaling of an all-zero filter with the same constant.
FILTER_NORM_EPS = 1e-10


@dataclass(frozen=True)
class ComputedLandscape:
    line: LossLine
    surface: LossSurface
    rows: int  # training rows the losses were computed on
    seconds: float


def compute_landscape(
    spec: JobSpec,
    final_state: dict[str, Tensor],
    *,
    data_dir: Path | None,
    fold: int,
    line_points: int = 31,
    grid_points: int = 21,
    span: float = 1.0,
) -> ComputedLandscape:
    """The loss along the line from the initial to `final_state`, and on a grid around `final_state`.

    `line_points` must be 6k + 1 so that α = 0 and α = 1 are points of the line; `grid_points` must be
    odd so that 0 is a step of the grid. Raises ValueError for those, a `span` ≤ 0 or non-finite final
    weights, and DatasetError for a dataset that can no longer be loaded.
    """
    started = time.perf_counter()
    alphas, steps = line_alphas(line_points), grid_steps(grid_points, span)
    if not all(torch.isfinite(value).all() for value in final_state.values() if value.is_floating_point()):
        raise ValueError("the final weights are not finite (the job diverged): there is no landscape around them")
    dataset, data = load_fold(spec, data_dir, fold)
    device = resolve_device(spec.device)
    with _generators_kept():  # building a model draws from the global generators; the caller's stay as they were
        model = trained_model(spec, final_state, dataset, device)
        start = initial_model(spec, fold, dataset)
    final = {name: p.detach() for name, p in model.named_parameters()}
    initial = {name: p.detach().to(device) for name, p in start.named_parameters()}
    objective = Objective(spec.resolved_loss(dataset.task), dataset.task, dataset.num_classes, data.target_scale)
    X_train, y_train = _on(device, *training_subset(data, spec.seed))
    X_val, y_val = _on(device, *row_subset(data.X_val, data.y_val, spec.seed))
    train_loss = _loss_at(model, objective, X_train, y_train)
    val_loss = _loss_at(model, objective, X_val, y_val)

    with torch.no_grad():
        line = []
        for a in alphas:
            point = {name: (1 - a) * initial[name] + a * final[name] for name in final}
            line.append(torch.stack([train_loss(point), val_loss(point)]))
        d1, d2 = filter_normalized_directions(final, direction_seed(spec.seed, fold))
        surface = torch.stack(
            [
                train_loss({name: final[name] + x * d1[name] + y * d2[name] for name in final})
                for y in steps
                for x in steps
            ]
        )
        # one host sync for every loss
        values = torch.cat([torch.stack(line).T.flatten(), surface]).tolist()

    n = len(alphas)
    finite = [value if math.isfinite(value) else None for value in values]
    grid = finite[2 * n :]
    return ComputedLandscape(
        line=LossLine(alphas=alphas, train_loss=finite[:n], val_loss=finite[n : 2 * n]),
        surface=LossSurface(
            xs=steps, ys=steps, train_loss=[grid[i : i + len(steps)] for i in range(0, len(grid), len(steps))]
        ),
        rows=len(X_train),
        seconds=time.perf_counter() - started,
    )


def line_alphas(points: int) -> list[float]:
    """`points` values of α from −0.25 to 1.25, equally spaced, with 0 and 1 exactly among them.

    A quarter beyond each end shows whether the loss still falls past the initial or the final weights.
    """
    if points < 7 or (points - 1) % 6:
        raise ValueError(
            f"line_points must be 6k + 1 with k ≥ 1 (7, 13, …, 31, …) so that α = 0 and 1 are points; got {points}"
        )
    quarter = (points - 1) // 6  # steps per quarter of α: the line spans six quarters
    return [(i - quarter) / (4 * quarter) for i in range(points)]


def grid_steps(points: int, span: float) -> list[float]:
    """`points` equally spaced steps from −span to span, with 0 exactly in the middle."""
    if points < 3 or points % 2 == 0:
        raise ValueError(f"grid_points must be odd and at least 3 so that 0 is a step of the grid; got {points}")
    if not (math.isfinite(span) and span > 0):
        raise ValueError(f"span must be a positive number; got {span}")
    half = (points - 1) // 2
    return [span * (i - half) / half for i in range(points)]


def direction_seed(seed: int, fold: int) -> int:
    return int(np.random.SeedSequence([seed, fold, DIRECTION_STREAM]).generate_state(1)[0])


def filter_normalized_directions(
    parameters: dict[str, Tensor], seed: int
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Two Gaussian directions in parameter space, each filter rescaled to the norm of the same filter of `parameters`.

    A filter is a row of a Linear weight or an output channel of a Conv weight (the first dimension).
    Parameters of one dimension (biases, BatchNorm and LayerNorm scales and shifts) get a zero direction:
    Li et al.'s "ignore biasbn" setting, since a bias's norm says nothing about the scale of the function.
    Drawn on the CPU from a generator seeded with `seed`, so they are the same on every device.
    """
    generator = torch.Generator().manual_seed(seed)
    return _direction(parameters, generator), _direction(parameters, generator)


def _direction(parameters: dict[str, Tensor], generator: torch.Generator) -> dict[str, Tensor]:
    direction: dict[str, Tensor] = {}
    for name, weight in parameters.items():
        if weight.dim() < 2:
            direction[name] = torch.zeros_like(weight)
            continue
        d = torch.randn(weight.shape, generator=generator, dtype=weight.dtype).to(weight.device)
        direction[name] = d * (_filter_norms(weight) / (_filter_norms(d) + FILTER_NORM_EPS))
    return direction


def _filter_norms(weight: Tensor) -> Tensor:
    """The norm of each filter, shaped to broadcast over the filter's entries."""
    return torch.linalg.vector_norm(weight.flatten(1), dim=1).view(-1, *[1] * (weight.dim() - 1))


@contextlib.contextmanager
def _generators_kept() -> Iterator[None]:
    saved = rng_state()
    try:
        yield
    finally:
        set_rng_state(saved)


def _loss_at(model: nn.Module, objective: Objective, X: Tensor, y: Tensor) -> Callable[[dict[str, Tensor]], Tensor]:
    """The mean loss of (X, y) as a function of the parameters, with the model's own buffers.

    Only parameters move, on the line and on the plane; BatchNorm's running statistics stay the final
    model's. They are estimates of the final network's activation statistics, not coordinates of a point
    in weight space: interpolating them towards the initial (0, 1) would describe neither network, and
    re-estimating them at each point would make the loss depend on the batches used. Li et al.'s
    reference code does the same (directions over the parameters only). So α = 1 is exactly the final
    model, and for a BatchNorm model α = 0 is the initial weights normalized with the final statistics.
    """
    buffers = dict(model.named_buffers())

    def loss(parameters: dict[str, Tensor]) -> Tensor:
        return objective.loss(functional_call(model, {**parameters, **buffers}, (X,)).float(), y)

    return loss


def _on(device: torch.device, X: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
    return torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
