"""Saddle point vs local minimum from the Hessian's extreme eigenvalues, on points whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.trainer.builders import make_spec, train
from trainer.diagnose.curvature import CurvatureBudget, analyze_critical_point
from trainer.diagnose.facts import facts_of, load_fold
from trainer.diagnose.hessian import HessianOperator, power_iteration, smallest_eigenvalue
from trainer.diagnose.weights import job_curvature
from trainwell.diagnosis import CriticalPoint

BUDGET = CurvatureBudget(seconds=30.0)


def test_the_textbook_saddle_is_a_saddle_and_the_escape_step_lowers_the_loss() -> None:
    w = nn.Parameter(torch.zeros(2))  # f(w) = w1² − w2², at the origin
    curvature = analyze_critical_point(lambda: w[0] ** 2 - w[1] ** 2, [w], loss_scale=1.0, budget=BUDGET, seed=0)
    assert curvature.critical_point == CriticalPoint.saddle_point
    assert curvature.gradient_norm == 0.0
    assert curvature.lambda_max == pytest.approx(2.0) and curvature.lambda_min == pytest.approx(-2.0)
    assert curvature.escape is not None and curvature.escape.loss_after < curvature.escape.loss_before == 0.0
    assert torch.equal(w.detach(), torch.zeros(2))  # the weights are put back after the line search


def test_a_two_layer_linear_network_at_the_origin_is_a_saddle() -> None:
    # y = w2·w1·x fitted to y = 2x: the origin is a critical point with Hessian [[0, -c], [-c, 0]], eigenvalues ±c
    torch.manual_seed(0)
    x = torch.randn(200, 1)
    y = 2 * x
    layers = [nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)]
    for layer in layers:
        nn.init.zeros_(layer.weight)
    model = nn.Sequential(*layers)
    params = list(model.parameters())
    curvature = analyze_critical_point(
        lambda: ((model(x) - y) ** 2).mean(), params, loss_scale=float(y.var()), budget=BUDGET, seed=0
    )
    assert curvature.critical_point == CriticalPoint.saddle_point
    assert curvature.lambda_min == pytest.approx(-curvature.lambda_max, rel=1e-4)  # type: ignore[operator]
    assert curvature.escape is not None and curvature.escape.loss_after < curvature.escape.loss_before


def test_a_converged_logistic_regression_is_a_local_minimum() -> None:
    torch.manual_seed(0)
    x = torch.randn(300, 5)
    y = (x[:, 0] + 0.5 * x[:, 1] + 0.8 * torch.randn(300) > 0).long()  # overlapping classes: a finite minimum
    model = nn.Linear(5, 2)
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=200, tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    params = list(model.parameters())
    curvature = analyze_critical_point(
        lambda: nn.functional.cross_entropy(model(x), y), params, loss_scale=float(np.log(2)), budget=BUDGET, seed=0
    )
    assert curvature.critical_point == CriticalPoint.local_minimum
    assert curvature.lambda_min is not None and curvature.lambda_min > -1e-4  # convex: no negative curvature
    assert curvature.escape is None


def test_a_fresh_network_is_not_critical() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(256, 4), torch.randint(0, 3, (256,))
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
    curvature = analyze_critical_point(
        lambda: nn.functional.cross_entropy(model(x), y),
        list(model.parameters()),
        loss_scale=1.1,
        budget=BUDGET,
        seed=0,
    )
    assert curvature.critical_point == CriticalPoint.not_critical


def test_extreme_eigenvalues_of_a_known_quadratic_by_power_iteration_and_lanczos() -> None:
    # f(w) = ½ wᵀ diag(d) w with 200 parameters (above the dense cut-off, so ARPACK's Lanczos runs): a bulk
    # in [-0.5, 1] and one outlier at 3, the shape of a trained network's spectrum (Sagun et al. 2017)
    d = torch.cat([torch.linspace(-0.5, 1.0, 199), torch.tensor([3.0])])
    w = nn.Parameter(torch.randn(200))
    operator = HessianOperator(0.5 * (d * w * w).sum(), [w], max_products=500, deadline=float("inf"))
    top, _ = power_iteration(operator, torch.randn(200), max_iterations=500)
    bottom, vector, converged = smallest_eigenvalue(operator, 200, top, seed=0, device=torch.device("cpu"))
    assert top == pytest.approx(3.0, rel=1e-2)
    assert converged and bottom == pytest.approx(-0.5, abs=1e-2)
    assert abs(float(vector[0])) > 0.99  # the eigenvector of the smallest entry of d


def test_a_budget_too_small_for_the_minimum_work_skips_with_a_reason() -> None:
    w = nn.Parameter(torch.zeros(2))
    curvature = analyze_critical_point(
        lambda: w[0] ** 2 - w[1] ** 2, [w], loss_scale=1.0, budget=CurvatureBudget(seconds=0.0), seed=0
    )
    assert curvature.critical_point is None and curvature.skipped_reason and "budget" in curvature.skipped_reason


@pytest.mark.parametrize(
    "model",
    [
        {"kind": "cnn", "channels": [4], "hidden": [16], "norm": "batch"},
        {"hidden": [32, 32], "norm": "batch", "dropout": 0.2},
    ],
)
def test_curvature_of_a_trained_job_with_batchnorm_dropout_and_a_cnn(model: dict[str, object]) -> None:
    spec = make_spec("digits", model=model, epochs=2, batch_size=64)
    result, _ = train(spec)
    dataset, data = load_fold(spec, None)
    assert result.state_dict is not None
    curvature = job_curvature(
        spec, result.state_dict, dataset, data, loss_scale=facts_of(spec, dataset, data).trivial_loss, budget=BUDGET
    )
    assert curvature.skipped_reason is None and curvature.critical_point is not None
    assert curvature.lambda_max is not None and curvature.lambda_max > 0
    assert curvature.hvp_count <= BUDGET.max_products and curvature.subset_rows == len(data.y_train)
    # evaluated in eval mode at fixed weights: the same numbers again (dropout or batch statistics left
    # on would move them by far more). Exactly the same on CPU; on a GPU, cuDNN's convolution backward
    # sums in no fixed order: the CNN's λmax differed by 1.1e-7 relative on an H200.
    again = job_curvature(
        spec, result.state_dict, dataset, data, loss_scale=facts_of(spec, dataset, data).trivial_loss, budget=BUDGET
    )
    assert again.lambda_max == pytest.approx(curvature.lambda_max, rel=1e-5)
    assert again.lambda_min == pytest.approx(curvature.lambda_min, rel=1e-5)
