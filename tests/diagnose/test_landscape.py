"""The loss landscape on real tiny training runs: the line's ends, the surface's centre, the directions, the PNG."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from tests.trainer.builders import make_spec, train
from trainer.callbacks import Callbacks
from trainer.diagnose.facts import load_fold
from trainer.diagnose.landscape import ComputedLandscape, compute_landscape, filter_normalized_directions
from trainer.diagnose.weights import row_subset, trained_model, training_subset
from trainer.fold import FoldRun, initial_model
from trainer.losses import Objective
from trainer.models import build_model
from trainwell.landscape import Landscape, LandscapeStatus
from trainwell.spec import JobSpec
from worker.landscape_plot import DPI, FIGSIZE, render_landscape_png


def data_loss(spec: JobSpec, model: nn.Module, *, split: str = "train") -> float:
    """The job's loss of `model` (in eval mode) on the rows the landscape uses."""
    dataset, data = load_fold(spec, None)
    objective = Objective(spec.resolved_loss(dataset.task), dataset.task, dataset.num_classes, data.target_scale)
    X, y = training_subset(data, spec.seed) if split == "train" else row_subset(data.X_val, data.y_val, spec.seed)
    with torch.no_grad():
        return float(objective.loss(model.eval()(torch.from_numpy(X)), torch.from_numpy(y)))


def centre(landscape: ComputedLandscape) -> float | None:
    middle = len(landscape.surface.xs) // 2
    return landscape.surface.train_loss[middle][middle]


def at_alpha(losses: list[float | None], alphas: list[float], alpha: float) -> float | None:
    return losses[alphas.index(alpha)]


@pytest.fixture(scope="module")
def digits_run() -> tuple[JobSpec, dict[str, Tensor], ComputedLandscape]:
    torch.set_num_threads(1)
    spec = make_spec("digits", model={"hidden": [32]}, epochs=4, batch_size=64)
    result, _ = train(spec)
    assert result.state_dict is not None
    return spec, result.state_dict, compute_landscape(spec, result.state_dict, data_dir=None, fold=0)


# -- the initial weights -------------------------------------------------------------------------


@pytest.mark.parametrize("fold", [0, 2])
def test_the_reconstructed_initial_weights_are_the_ones_a_fold_starts_from(fold: int) -> None:
    spec = make_spec("iris", dataset={"validation": {"kfold": 3}}, model={"hidden": [8], "norm": "batch"})
    dataset, data = load_fold(spec, None, fold)
    torch.manual_seed(12345)  # whatever state the generators are in, the fold's seed decides
    run = FoldRun(spec, fold, data, dataset, torch.device("cpu"), Callbacks())
    torch.manual_seed(54321)
    rebuilt = initial_model(spec, fold, dataset).state_dict()
    started = run.model.state_dict()
    assert rebuilt.keys() == started.keys()
    assert all(torch.equal(rebuilt[name], started[name]) for name in started)
    other = initial_model(spec, 1 - min(fold, 1), dataset).state_dict()
    assert not torch.equal(other["0.weight"], started["0.weight"])  # each fold has its own start


# -- the line ------------------------------------------------------------------------------------


def test_the_line_runs_from_the_initial_to_the_final_loss(
    digits_run: tuple[JobSpec, dict[str, Tensor], ComputedLandscape],
) -> None:
    spec, final_state, landscape = digits_run
    dataset, _ = load_fold(spec, None)
    line = landscape.line
    assert len(line.alphas) == 31 and line.alphas[0] == -0.25 and line.alphas[-1] == 1.25
    assert 0.0 in line.alphas and 1.0 in line.alphas
    initial, final = initial_model(spec, 0, dataset), trained_model(spec, final_state, dataset, torch.device("cpu"))
    assert at_alpha(line.train_loss, line.alphas, 0.0) == pytest.approx(data_loss(spec, initial), rel=1e-6)
    assert at_alpha(line.val_loss, line.alphas, 0.0) == pytest.approx(data_loss(spec, initial, split="val"), rel=1e-6)
    assert at_alpha(line.train_loss, line.alphas, 1.0) == pytest.approx(data_loss(spec, final), rel=1e-6)
    assert at_alpha(line.val_loss, line.alphas, 1.0) == pytest.approx(data_loss(spec, final, split="val"), rel=1e-6)
    start, end = at_alpha(line.train_loss, line.alphas, 0.0), at_alpha(line.train_loss, line.alphas, 1.0)
    assert start is not None and end is not None and end < 0.2 * start  # training went downhill
    assert landscape.rows == len(load_fold(spec, None)[1].y_train)


def test_computing_the_landscape_leaves_the_callers_random_generators_alone(
    digits_run: tuple[JobSpec, dict[str, Tensor], ComputedLandscape],
) -> None:
    spec, final_state, _ = digits_run
    torch.manual_seed(7)
    np.random.seed(7)
    compute_landscape(spec, final_state, data_dir=None, fold=0, line_points=7, grid_points=3)
    after = torch.rand(1), np.random.rand()
    torch.manual_seed(7)
    np.random.seed(7)
    assert (torch.rand(1), np.random.rand()) == after


# -- the surface ---------------------------------------------------------------------------------


def test_the_surface_is_centred_on_the_final_weights_and_deterministic(
    digits_run: tuple[JobSpec, dict[str, Tensor], ComputedLandscape],
) -> None:
    spec, final_state, landscape = digits_run
    surface = landscape.surface
    assert surface.xs == surface.ys and len(surface.xs) == 21 and surface.xs[10] == 0.0
    assert surface.xs[0] == -1.0 and surface.xs[-1] == 1.0
    assert len(surface.train_loss) == 21 and all(len(row) == 21 for row in surface.train_loss)
    assert centre(landscape) == at_alpha(landscape.line.train_loss, landscape.line.alphas, 1.0)
    again = compute_landscape(spec, final_state, data_dir=None, fold=0)
    assert again.surface == surface and again.line == landscape.line


def test_a_converged_linear_regression_sits_at_the_bottom_of_its_surface() -> None:
    # MSE of a linear model is a convex quadratic with a finite minimum: trained to convergence, the final
    # weights are the lowest point of any plane through them, and the line bottoms out at α = 1
    spec = make_spec("diabetes", model={"hidden": []}, epochs=100, batch_size=32)
    result, _ = train(spec)
    assert result.state_dict is not None
    landscape = compute_landscape(spec, result.state_dict, data_dir=None, fold=0)
    grid = [value for row in landscape.surface.train_loss for value in row]
    assert all(value is not None for value in grid)
    lowest = min(value for value in grid if value is not None)
    assert centre(landscape) == pytest.approx(lowest, rel=1e-3)
    line = landscape.line
    train_loss = [value for value in line.train_loss if value is not None]
    assert len(train_loss) == len(line.alphas)
    assert abs(line.alphas[train_loss.index(min(train_loss))] - 1.0) <= 0.1


@pytest.mark.parametrize(
    "model",
    [
        {"kind": "cnn", "channels": [4], "hidden": [16]},
        {"hidden": [32, 32], "norm": "batch", "dropout": 0.2},
        {"kind": "cnn", "channels": [4], "hidden": [16], "norm": "layer"},
    ],
)
def test_cnn_batchnorm_and_layernorm_models_have_a_landscape(model: dict[str, object]) -> None:
    spec = make_spec("digits", model=model, epochs=2, batch_size=64)
    result, _ = train(spec)
    assert result.state_dict is not None
    landscape = compute_landscape(spec, result.state_dict, data_dir=None, fold=0, line_points=13, grid_points=5)
    dataset, _ = load_fold(spec, None)
    final = trained_model(spec, result.state_dict, dataset, torch.device("cpu"))
    line = landscape.line
    assert all(value is not None for value in line.train_loss + line.val_loss)
    assert at_alpha(line.train_loss, line.alphas, 1.0) == pytest.approx(data_loss(spec, final), rel=1e-6)
    assert centre(landscape) == at_alpha(line.train_loss, line.alphas, 1.0)
    # only the parameters move: at α = 0 the initial weights run with the final model's running statistics
    start = initial_model(spec, 0, dataset)
    start.load_state_dict({**start.state_dict(), **dict(final.named_buffers())})
    assert at_alpha(line.train_loss, line.alphas, 0.0) == pytest.approx(data_loss(spec, start), rel=1e-6)


# -- the directions ------------------------------------------------------------------------------


def test_each_filter_of_a_direction_has_the_norm_of_the_weights_filter_and_biases_get_none() -> None:
    spec = make_spec("digits", model={"kind": "cnn", "channels": [4, 6], "hidden": [16], "norm": "batch"})
    model = build_model(spec.model, 64, 10, (1, 8, 8))
    parameters = {name: p.detach() for name, p in model.named_parameters()}
    d1, d2 = filter_normalized_directions(parameters, seed=3)
    assert d1.keys() == d2.keys() == parameters.keys()
    shapes = {weight.dim() for weight in parameters.values()}
    assert shapes == {1, 2, 4}  # biases and BatchNorm, Linear weights, Conv weights
    for direction in (d1, d2):
        for name, weight in parameters.items():
            d = direction[name]
            assert d.shape == weight.shape
            if weight.dim() == 1:
                assert torch.equal(d, torch.zeros_like(weight))
                continue
            for row in range(weight.shape[0]):  # a Linear row, a Conv output channel
                assert float(d[row].norm()) == pytest.approx(float(weight[row].norm()), rel=1e-5)
    assert not torch.equal(d1["features.0.weight"], d2["features.0.weight"])
    again = filter_normalized_directions(parameters, seed=3)
    assert all(torch.equal(again[0][name], d1[name]) for name in d1)


# -- arguments and failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"line_points": 30}, "line_points"),
        ({"line_points": 1}, "line_points"),
        ({"grid_points": 20}, "grid_points"),
        ({"span": 0.0}, "span"),
        ({"span": math.inf}, "span"),
    ],
)
def test_points_that_would_miss_the_ends_or_the_centre_are_refused(arguments: dict[str, float], message: str) -> None:
    spec = make_spec("iris", model={"hidden": []})
    state = build_model(spec.model, 4, 3, None).state_dict()
    with pytest.raises(ValueError, match=message):
        compute_landscape(spec, state, data_dir=None, fold=0, **arguments)  # type: ignore[arg-type]


def test_non_finite_final_weights_are_refused_with_a_reason() -> None:
    spec = make_spec("iris", model={"hidden": []})
    state = build_model(spec.model, 4, 3, None).state_dict()
    state["0.weight"][0, 0] = math.nan
    with pytest.raises(ValueError, match="not finite"):
        compute_landscape(spec, state, data_dir=None, fold=0)


# -- the PNG -------------------------------------------------------------------------------------


def as_landscape(computed: ComputedLandscape) -> Landscape:
    return Landscape(
        job_id="job-1", status=LandscapeStatus.ready, line=computed.line, surface=computed.surface, rows=computed.rows
    )


def read_png(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_the_png_has_the_expected_size(digits_run: tuple[JobSpec, dict[str, Tensor], ComputedLandscape]) -> None:
    image = read_png(render_landscape_png(as_landscape(digits_run[2]), title="digits"))
    assert image.format == "PNG" and image.size == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))


def test_the_png_copes_with_missing_cells_a_wide_range_and_a_flat_surface(
    digits_run: tuple[JobSpec, dict[str, Tensor], ComputedLandscape],
) -> None:
    landscape = as_landscape(digits_run[2])
    assert landscape.surface is not None and landscape.line is not None
    holes = landscape.model_copy(deep=True)
    assert holes.surface is not None and holes.line is not None
    holes.surface.train_loss[0][:5] = [None] * 5
    holes.surface.train_loss[-1][-1] = 1e6  # a wide range: log-spaced levels
    holes.line.val_loss[-3:] = [None] * 3
    flat = landscape.model_copy(deep=True)
    assert flat.surface is not None
    flat.surface.train_loss = [[0.5] * len(row) for row in flat.surface.train_loss]
    empty = landscape.model_copy(deep=True)
    assert empty.surface is not None and empty.line is not None
    empty.surface.train_loss = [[None] * len(row) for row in empty.surface.train_loss]
    empty.line.train_loss = [None] * len(empty.line.alphas)
    for case in (holes, flat, empty):
        assert read_png(render_landscape_png(case)).size == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))


def test_a_landscape_not_yet_computed_has_no_png() -> None:
    with pytest.raises(ValueError, match="queued"):
        render_landscape_png(Landscape(job_id="job-1", status=LandscapeStatus.queued))
