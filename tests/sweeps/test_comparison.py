"""A sweep's comparison on synthetic trials: the table's statistics, the best cell and the findings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy import stats

from api.services.sweep_comparison import SweepComparison, compare
from api.services.sweep_findings import ALPHA, POWER
from store.sweeps import TrialRow
from trainer.callbacks import FitResult, FoldResult
from trainwell.diagnosis import Severity, Verdict
from trainwell.job import JobStatus
from trainwell.sweep import Stat, SweepFinding
from trainwell.sweep_grid import cells

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def fit_summary(
    *,
    train_loss: float,
    val_loss: float,
    val_accuracy: float = 0.9,
    best_epoch: int = 10,
    epochs: int = 20,
    task: str = "classification",
) -> dict[str, Any]:
    """What a succeeded holdout job stores: FitResult.summary(), with every epoch metric in its records."""
    scores = (
        {"train_accuracy": 0.95, "val_accuracy": val_accuracy, "test_accuracy": val_accuracy - 0.01}
        if task == "classification"
        else {"train_mae": 0.2, "val_mae": 0.3, "test_mae": 0.31, "train_r2": 0.9, "val_r2": 0.8, "test_r2": 0.79}
    )
    best = {"train_loss": train_loss, "val_loss": val_loss, "test_loss": val_loss + 0.01, **scores}
    best |= {"lr": 0.01, "grad_norm": 0.5, "epoch_seconds": 0.1}  # not comparison metrics
    final = {**best, "train_loss": train_loss * 0.9, "val_loss": val_loss + 0.05}
    fold = FoldResult(best_epoch, epochs, False, best, final)
    return FitResult(status="completed", folds=[fold], task=task).summary()  # type: ignore[arg-type]


def trial(
    position: int,
    cell: int,
    seed: int,
    summary: dict[str, Any] | None,
    *,
    status: JobStatus | None = JobStatus.succeeded,
    seconds: float = 30.0,
) -> TrialRow:
    job_id = None if status is None else f"job_{position}"
    finished = START + timedelta(seconds=seconds) if status is not None and status.is_final else None
    return TrialRow(position, cell, seed, job_id, status, summary, START if status else None, finished)


def sweep(cells: Sequence[Sequence[dict[str, Any]]]) -> list[TrialRow]:
    """Succeeded trials, cell by cell and seed by seed, from each cell's summaries."""
    rows, position = [], 0
    for cell, summaries in enumerate(cells):
        for seed, summary in enumerate(summaries):
            rows.append(trial(position, cell, seed, summary))
            position += 1
    return rows


def losses(val: Sequence[float], train: Sequence[float] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    train = train if train is not None else [0.05] * len(val)
    return [fit_summary(train_loss=t, val_loss=v, **kwargs) for t, v in zip(train, val, strict=True)]


def run(
    grid: dict[str, list[Any]],
    trials: list[TrialRow],
    *,
    sharpness: dict[str, float] | None = None,
    curves: dict[str, dict[str, list[float]]] | None = None,
) -> SweepComparison:
    return compare(cells=cells(grid), trials=trials, verdicts={}, sharpness=sharpness or {}, curves=curves)


def codes(result: SweepComparison) -> list[str]:
    return [finding.code for finding in result.findings]


def only(result: SweepComparison, code: str) -> SweepFinding:
    found = [finding for finding in result.findings if finding.code == code]
    assert len(found) == 1, codes(result)
    return found[0]


def job_ids(trials: list[TrialRow], cell: int) -> list[str]:
    return [t.job_id for t in trials if t.cell == cell and t.job_id is not None]


# ---- the table


def test_the_table_holds_each_cells_statistics_over_its_succeeded_seeds() -> None:
    grid = {"optimizer.lr": [0.1, 0.01]}
    val0, train0 = [0.31, 0.35, 0.28], [0.05, 0.07, 0.04]
    trials = [
        trial(0, 0, 0, fit_summary(train_loss=train0[0], val_loss=val0[0], best_epoch=8), seconds=20.0),
        trial(1, 0, 1, fit_summary(train_loss=train0[1], val_loss=val0[1], best_epoch=11), seconds=25.0),
        trial(2, 0, 2, fit_summary(train_loss=train0[2], val_loss=val0[2], best_epoch=9), seconds=33.0),
        trial(3, 1, 0, fit_summary(train_loss=0.2, val_loss=0.4)),
        trial(4, 1, 1, fit_summary(train_loss=5.0, val_loss=9.9), status=JobStatus.failed),  # diverged late
        trial(5, 1, 2, None, status=None),  # not released yet
    ]
    verdicts = {"job_0": "good_fit", "job_1": "good_fit", "job_2": "overfitting", "job_4": "diverged", "job_3": "odd"}
    sharpness = {"job_0": 4.0, "job_2": 6.5, "job_3": 9.0, "job_4": 1e6}
    result = compare(cells=cells(grid), trials=trials, verdicts=verdicts, sharpness=sharpness)

    first, second = result.table
    assert [first.values, second.values] == [{"optimizer.lr": 0.1}, {"optimizer.lr": 0.01}]
    assert first.job_ids == ["job_0", "job_1", "job_2"] and second.job_ids == ["job_3", "job_4"]
    assert (first.succeeded, second.succeeded) == (3, 1)
    val = first.metrics["best_val_loss"]
    assert val.mean == pytest.approx(np.mean(val0)) and val.std == pytest.approx(np.std(val0, ddof=1)) and val.n == 3
    final_train = first.metrics["final_train_loss"]
    assert final_train.mean == pytest.approx(np.mean(np.array(train0) * 0.9))
    assert final_train.std == pytest.approx(np.std(np.array(train0) * 0.9, ddof=1))
    assert first.best_epoch.mean == pytest.approx(28 / 3) and first.best_epoch.std == pytest.approx(
        np.std([8, 11, 9], ddof=1)
    )
    assert first.seconds.mean == pytest.approx(np.mean([20, 25, 33])) and first.seconds.n == 3
    assert (first.lambda_max.mean, first.lambda_max.n) == (pytest.approx(5.25), 2)  # job_1 has no sharpness
    # each split's loss and accuracy at the best and the last epoch; lr, gradient norms and timings are not compared
    assert set(first.metrics) == {
        f"{when}_{split}_{kind}"
        for when in ("best", "final")
        for split in ("train", "val", "test")
        for kind in ("loss", "accuracy")
    }
    assert first.verdicts == {Verdict.good_fit: 2, Verdict.overfitting: 1}
    # one succeeded seed: a mean, no spread; the failed trial's verdict counts, its sharpness does not
    assert second.metrics["best_val_loss"] == Stat(mean=0.4, std=None, n=1)
    assert second.lambda_max.mean == 9.0 and second.lambda_max.n == 1
    assert second.verdicts == {Verdict.diverged: 1}


def test_regression_reports_mae_and_r2() -> None:
    trials = sweep([losses([0.5, 0.6], task="regression")])
    (row,) = run({"model.hidden": [[32]]}, trials).table
    assert {"best_val_mae", "final_test_r2", "best_val_loss"} <= set(row.metrics)
    assert "best_val_accuracy" not in row.metrics


# ---- the best cell


def test_the_best_cell_has_the_lowest_mean_validation_loss_and_welchs_test_against_the_next() -> None:
    vals = [[0.40, 0.42, 0.41], [0.30, 0.33, 0.29], [0.36, 0.31, 0.35]]
    result = run({"optimizer.lr": [1.0, 0.1, 0.01]}, sweep([losses(v) for v in vals]))
    best = result.best
    assert best is not None and (best.metric, best.best_cell, best.runner_up) == ("best_val_loss", 1, 2)
    assert best.difference == pytest.approx(np.mean(vals[2]) - np.mean(vals[1]))
    expected = stats.ttest_ind(vals[1], vals[2], equal_var=False).pvalue
    assert best.p_value == pytest.approx(expected)
    assert expected > 0.05 and best.separable is False


def test_no_succeeded_cell_no_best() -> None:
    trials = [trial(0, 0, 0, None, status=JobStatus.failed), trial(1, 1, 0, None, status=JobStatus.cancelled)]
    result = run({"optimizer.lr": [1.0, 0.1]}, trials)
    assert result.best is None and result.findings == []
    assert [row.metrics for row in result.table] == [{}, {}]


def test_a_single_succeeded_cell_has_no_runner_up() -> None:
    trials = [*sweep([losses([0.3, 0.31])]), trial(2, 1, 0, None, status=JobStatus.failed)]
    best = run({"optimizer.lr": [0.1, 1.0]}, trials).best
    assert best is not None and (best.best_cell, best.runner_up, best.p_value, best.separable) == (0, None, None, None)


def test_seeds_without_spread_separate_when_their_means_differ() -> None:
    apart = run({"optimizer.lr": [0.1, 0.01]}, sweep([losses([0.3, 0.3]), losses([0.4, 0.4])])).best
    assert apart is not None and (apart.p_value, apart.separable) == (0.0, True)
    alike = run({"optimizer.lr": [0.1, 0.01]}, sweep([losses([0.3, 0.3]), losses([0.3, 0.3])])).best
    assert alike is not None and (alike.p_value, alike.separable, alike.difference) == (None, None, 0.0)


# ---- difference_within_noise


def test_a_lead_within_the_noise_says_how_many_seeds_would_separate_it() -> None:
    vals = [[0.30, 0.36, 0.33], [0.31, 0.37, 0.35]]
    result = run({"optimizer.lr": [0.1, 0.01]}, sweep([losses(v) for v in vals]))
    finding = only(result, "difference_within_noise")
    assert finding.severity == Severity.info and finding.remedy is None
    evidence = finding.evidence
    assert evidence["best"]["n"] == evidence["runner_up"]["n"] == 3
    assert evidence["p_value"] == pytest.approx(stats.ttest_ind(*vals, equal_var=False).pvalue, rel=1e-3)
    sigma = math.sqrt((np.var(vals[0], ddof=1) + np.var(vals[1], ddof=1)) / 2)
    delta = np.mean(vals[1]) - np.mean(vals[0])
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    assert evidence["seeds_needed"] == math.ceil(2 * z**2 * sigma**2 / delta**2)
    assert 20 < evidence["seeds_needed"] < 200  # σ ≈ 0.03 against δ ≈ 0.013


def test_clearly_separated_cells_are_not_within_the_noise() -> None:
    result = run({"optimizer.lr": [0.1, 0.01]}, sweep([losses([0.30, 0.31, 0.29]), losses([0.50, 0.52, 0.49])]))
    assert result.best is not None and result.best.separable is True
    assert "difference_within_noise" not in codes(result)


def test_cells_alike_in_every_seed_are_within_the_noise() -> None:
    result = run({"optimizer.lr": [0.1, 0.01]}, sweep([losses([0.3, 0.3]), losses([0.3, 0.3])]))
    finding = only(result, "difference_within_noise")
    assert finding.evidence["seeds_needed"] is None and "the same in every seed" in finding.title


def test_one_seed_per_cell_cannot_separate_anything() -> None:
    result = run({"optimizer.lr": [0.1, 0.01]}, sweep([losses([0.30]), losses([0.50])]))
    finding = only(result, "difference_within_noise")
    assert finding.evidence["p_value"] is None and finding.evidence["seeds_needed"] is None
    assert "fewer than 2 seeds" in finding.title


# ---- large_batch_sharper_minimum

SMALL_TRAIN, SMALL_VAL, SMALL_SHARPNESS = [0.020, 0.025, 0.018], [0.30, 0.32, 0.31], [5.0, 6.0, 5.5]


def batch_sweep(large_train: list[float], large_val: list[float], large_sharpness: list[float]) -> SweepComparison:
    trials = sweep([losses(SMALL_VAL, SMALL_TRAIN), losses(large_val, large_train)])
    sharpness = dict(zip([f"job_{i}" for i in range(6)], SMALL_SHARPNESS + large_sharpness, strict=True))
    return run({"batch_size": [16, 1024]}, trials, sharpness=sharpness)


def test_a_large_batch_fitting_as_well_but_generalizing_worse_at_a_sharper_minimum() -> None:
    result = batch_sweep([0.030, 0.028, 0.035], [0.45, 0.47, 0.44], [40.0, 45.0, 42.0])
    finding = only(result, "large_batch_sharper_minimum")
    assert finding.severity == Severity.warning and finding.remedy == {"batch_size": 16}
    assert finding.evidence["large"]["lambda_max"]["mean"] == pytest.approx(np.mean([40, 45, 42]), rel=1e-3)
    assert finding.evidence["small"]["values"] == {"batch_size": 16}
    assert "Keskar" in finding.explanation and "1024" in finding.title


def test_a_large_batch_that_generalizes_as_well_is_no_finding() -> None:
    result = batch_sweep([0.030, 0.028, 0.035], [0.31, 0.30, 0.32], [40.0, 45.0, 42.0])
    assert "large_batch_sharper_minimum" not in codes(result)


def test_a_large_batch_that_fits_worse_is_underfitting_not_a_sharp_minimum() -> None:
    result = batch_sweep([0.25, 0.27, 0.26], [0.45, 0.47, 0.44], [40.0, 45.0, 42.0])
    assert "large_batch_sharper_minimum" not in codes(result)


def test_a_large_batch_no_sharper_is_no_finding() -> None:
    result = batch_sweep([0.030, 0.028, 0.035], [0.45, 0.47, 0.44], [5.5, 5.0, 6.0])
    assert "large_batch_sharper_minimum" not in codes(result)


def test_only_cells_differing_in_nothing_but_the_batch_size_are_compared() -> None:
    # cells: 0 (16, sgd), 1 (16, adam), 2 (1024, sgd), 3 (1024, adam); only 0 and 3, which also differ in
    # the optimizer, show the large-batch pattern
    good, bad = losses(SMALL_VAL, SMALL_TRAIN), losses([0.45, 0.47, 0.44], [0.030, 0.028, 0.035])
    trials = sweep([good, bad, good, bad])
    sharp = {f"job_{i}": (5.0 + i % 3 if i // 3 in (0, 2) else 40.0 + i % 3) for i in range(12)}
    result = run({"batch_size": [16, 1024], "optimizer.name": ["sgd", "adam"]}, trials, sharpness=sharp)
    assert "large_batch_sharper_minimum" not in codes(result)


# ---- optimizer_escapes_plateau

PLATEAU = [2.30, 2.29, 2.29, 2.28, 2.28, 2.28, 2.27, 2.27, 2.27, 2.27]
DESCENT = [2.10, 1.60, 1.10, 0.80, 0.55, 0.40, 0.30, 0.22, 0.17, 0.14]


def optimizer_sweep(first: list[float], second: list[float], *, with_curves: bool = True) -> SweepComparison:
    grid = {"optimizer": [{"name": "sgd", "momentum": 0.0}, {"name": "adam"}]}
    trials = sweep([losses([2.3, 2.3, 2.3]), losses([0.3, 0.32, 0.31])])
    noise = [0.0, 0.01, -0.01]
    curves = {f"job_{i}": {"train_loss": [v + noise[i % 3] for v in (first if i < 3 else second)]} for i in range(6)}
    return run(grid, trials, curves=curves if with_curves else None)


def test_an_optimizer_that_leaves_the_plateau_the_other_stays_on() -> None:
    finding = only(optimizer_sweep(PLATEAU, DESCENT), "optimizer_escapes_plateau")
    assert finding.remedy == {"optimizer": {"name": "adam"}}
    assert finding.evidence["stuck"]["cell"] == 0 and finding.evidence["escaped"]["cell"] == 1
    assert finding.evidence["stuck"]["train_loss"] == pytest.approx(PLATEAU)
    assert finding.evidence["window"] == 5 and finding.evidence["plateau_drop"] < 0.05
    assert "2.27" in finding.title and "0.14" in finding.title


def test_two_optimizers_that_both_descend_are_no_finding() -> None:
    slower = [v * 1.3 for v in DESCENT]
    assert "optimizer_escapes_plateau" not in codes(optimizer_sweep(slower, DESCENT))


def test_a_converged_loss_near_zero_is_no_plateau() -> None:
    converged = [0.5, 0.1, 0.02, 0.011, 0.0105, 0.0102, 0.0101, 0.0100, 0.0100, 0.0100]
    lower = [0.5, 0.1, 0.01, 0.005, 0.004, 0.0035, 0.003, 0.003, 0.003, 0.003]
    assert "optimizer_escapes_plateau" not in codes(optimizer_sweep(converged, lower))


def test_without_curves_there_is_no_plateau_finding() -> None:
    assert "optimizer_escapes_plateau" not in codes(optimizer_sweep(PLATEAU, DESCENT, with_curves=False))


# ---- loss_function_trains_faster


def loss_sweep(first: list[float], second: list[float], *, task: str = "classification") -> SweepComparison:
    trials = sweep(
        [losses([0.3, 0.31], val_accuracy=0.95, task=task), losses([0.35, 0.34], val_accuracy=0.94, task=task)]
    )
    curves = {f"job_{i}": {"val_accuracy": first if i < 2 else second} for i in range(4)}
    return run({"loss": ["cross_entropy", "mse"]}, trials, curves=curves)


FAST = [0.60, 0.80, 0.90, 0.93, 0.94, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]
SLOW = [0.20, 0.30, 0.40, 0.50, 0.58, 0.65, 0.70, 0.75, 0.79, 0.82, 0.84, 0.86, 0.90, 0.94]


def test_the_loss_that_reaches_the_target_accuracy_in_half_the_epochs() -> None:
    finding = only(loss_sweep(FAST, SLOW), "loss_function_trains_faster")
    assert finding.remedy == {"loss": "cross_entropy"} and finding.severity == Severity.info
    target = 0.9 * 0.95
    assert finding.evidence["target_val_accuracy"] == pytest.approx(target)
    assert finding.evidence["fast"]["epochs_to_target"] == 3 and finding.evidence["slow"]["epochs_to_target"] == 12


def test_the_faster_loss_is_named_whichever_it_is() -> None:
    finding = only(loss_sweep(SLOW, FAST), "loss_function_trains_faster")
    assert finding.remedy == {"loss": "mse"}


def test_losses_training_at_a_similar_pace_are_no_finding() -> None:
    nearly = [0.55, 0.75, 0.85, 0.90, 0.93, *FAST[5:]]
    assert "loss_function_trains_faster" not in codes(loss_sweep(FAST, nearly))


def test_a_regression_sweep_over_losses_is_no_finding() -> None:
    assert "loss_function_trains_faster" not in codes(loss_sweep(FAST, SLOW, task="regression"))


# ---- normalization_helps and batchnorm_helps


def test_normalized_features_reach_a_lower_validation_loss() -> None:
    trials = sweep([losses([0.52, 0.55, 0.50]), losses([0.30, 0.33, 0.31])])
    finding = only(run({"dataset.feature_norm": ["none", "standard"]}, trials), "normalization_helps")
    assert finding.remedy == {"dataset": {"feature_norm": "standard"}}
    assert finding.evidence["lower_val_loss"] is True and finding.evidence["better"]["cell"] == 1


def test_normalization_within_the_noise_is_no_finding() -> None:
    trials = sweep([losses([0.30, 0.36, 0.33]), losses([0.31, 0.35, 0.32])])
    assert "normalization_helps" not in codes(run({"dataset.feature_norm": ["none", "standard"]}, trials))


def test_raw_features_doing_better_do_not_say_normalization_helps() -> None:
    trials = sweep([losses([0.30, 0.33, 0.31]), losses([0.52, 0.55, 0.50])])
    assert "normalization_helps" not in codes(run({"dataset.feature_norm": ["none", "standard"]}, trials))


def test_batch_norm_reaching_the_same_loss_in_fewer_epochs() -> None:
    same = [0.30, 0.32, 0.31]
    trials = sweep(
        [
            [fit_summary(train_loss=0.05, val_loss=v, best_epoch=e) for v, e in zip(same, (18, 17, 19), strict=True)],
            [fit_summary(train_loss=0.05, val_loss=v, best_epoch=e) for v, e in zip(same, (6, 7, 5), strict=True)],
        ]
    )
    finding = only(run({"model": [{"norm": "none"}, {"norm": "batch"}]}, trials), "batchnorm_helps")
    assert finding.remedy == {"model": {"norm": "batch"}}
    assert (finding.evidence["fewer_epochs"], finding.evidence["lower_val_loss"]) == (True, False)
    assert finding.evidence["better"]["best_epoch"]["mean"] == 6


def test_batch_norm_at_the_same_loss_and_pace_is_no_finding() -> None:
    trials = sweep([losses([0.30, 0.32, 0.31]), losses([0.31, 0.30, 0.32])])
    assert "batchnorm_helps" not in codes(run({"model.norm": ["none", "batch"]}, trials))
