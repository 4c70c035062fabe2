"""A sweep's comparative findings: what two cells' numbers show against each other.

Each check is a pure function of two cells (their statistics over the seeds and, for the curve-based
ones, their mean curves). A pair is two cells whose grid values differ only in the fields a check is
about: every other field equal, an object value compared field by field as the merge patch it is. A
check fires from the numbers alone; the fields only choose the pairs, and a remedy is the better cell's
values for them, as a merge patch on the base spec.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from scipy import stats

from trainwell.diagnosis import Severity, merge_patch
from trainwell.sweep import Comparison, Stat, SweepCell, SweepFinding

# Welch's test separates two cells at the conventional two-sided 5% level; a test planned to separate
# them should have the conventional 80% power (Cohen, "Statistical Power Analysis for the Behavioral
# Sciences", 1988).
ALPHA = 0.05
POWER = 0.8
MIN_SEEDS = 2  # a sample standard deviation, and so any t-test, needs two seeds per cell
# Beyond the noise: two means differ by more than 2 standard errors of their difference, √(s₁²/n₁ + s₂²/n₂),
# about the two-sided 95% normal interval (z = 1.96) ...
NOISE_SE = 2.0
# ... and by at least 2% of the larger: seeds that agree to the fourth digit shrink the standard error to
# nothing, and a gain that small is not worth a change of spec.
MATERIAL = 0.02
# Keskar et al.'s large and small batches fit the training set alike: the larger batch's excess best training
# loss is within the noise, or under half its excess validation loss, so the worse validation loss is not a
# worse fit carried over.
TRAIN_SHARE = 0.5
# A plateau: over the last half of the run (at least 5 epochs, as the single-job plateau rule asks) the mean
# training loss fell by less than 5% of its level; at that pace halving it would take 13+ such windows.
PLATEAU_MIN_EPOCHS = 5
PLATEAU_DROP = 0.05
# Leaving it: the other cell's final training loss is lower by at least a quarter of the first epoch's loss,
# a scale-free gap (a loss near zero that stops falling has converged, not stalled).
ESCAPE_SHARE = 0.25
# Training speed: the epochs for the mean validation accuracy to reach 90% of the better cell's mean best, so
# both cells' targets are one level that the better reaches while still learning rather than at its peak.
TARGET_SHARE = 0.9
# Clearly faster: in at most half the other's epochs (a run that never gets there counts its length + 1),
# and at least 2 epochs sooner, more than one epoch of early-stopping jitter.
FASTER_RATIO = 0.5
MIN_EPOCHS_SOONER = 2

_ABSENT = object()  # a field a cell's merge patch leaves at the base's value


@dataclass(frozen=True)
class CellOutcome:
    """A cell as the checks read it: its table row, its trials' task, and its mean curves."""

    row: SweepCell
    task: str | None  # "classification" or "regression", from the succeeded trials' summaries
    curves: dict[str, list[float]] | None  # metric → per-epoch mean over the seeds; None when not given


PairCheck = Callable[[CellOutcome, CellOutcome], SweepFinding | None]


def sweep_findings(outcomes: list[CellOutcome], best: Comparison | None) -> list[SweepFinding]:
    rows = {outcome.row.cell: outcome.row for outcome in outcomes}
    found = [] if best is None else [check_difference_within_noise(best, rows)]
    for fields, check in PAIR_CHECKS:
        for a, b in _pairs(outcomes, fields):
            found.append(check(a, b))
    return [finding for finding in found if finding is not None]


def check_difference_within_noise(best: Comparison, rows: dict[int, SweepCell]) -> SweepFinding | None:
    if best.runner_up is None or best.separable or best.difference is None:
        return None
    first, second = rows[best.best_cell].metrics[best.metric], rows[best.runner_up].metrics[best.metric]
    sigma, delta = _pooled_std(first, second), best.difference
    needed = None if sigma is None or delta == 0 else max(MIN_SEEDS, _seeds_needed(sigma, delta))
    if best.p_value is not None:
        p = f"p = {best.p_value:.2g}"
    elif min(first.n, second.n) < MIN_SEEDS:
        p = "fewer than 2 seeds in a cell"
    else:
        p = "the same in every seed"
    return SweepFinding(
        code="difference_within_noise",
        severity=Severity.info,
        title=f"cell {best.best_cell} leads cell {best.runner_up} by {delta:.3g} {best.metric}, within the seed noise ({p})",
        evidence={
            "metric": best.metric,
            "best": {"cell": best.best_cell, **_stat(first)},
            "runner_up": {"cell": best.runner_up, **_stat(second)},
            "difference": _sig(delta),
            "p_value": _sig(best.p_value),
            "pooled_std": _sig(sigma),
            "seeds_needed": needed,
            "alpha": ALPHA,
            "power": POWER,
        },
        explanation=(
            "A cell's mean moves from one set of seeds to the next by about σ/√n; a lead within that noise may "
            'reverse with other seeds (Bouthillier et al., MLSys 2021, "Accounting for Variance in Machine '
            'Learning Benchmarks"). `seeds_needed` is the per-cell count at which a two-sided two-sample test at '
            f"α = {ALPHA} with power {POWER} would separate this difference at this pooled standard deviation: "
            "n = 2 (z₁₋α/₂ + z_power)² σ² / δ² (Cohen, 1988)."
        ),
    )


def check_large_batch_sharper_minimum(a: CellOutcome, b: CellOutcome) -> SweepFinding | None:
    small, large = sorted((a, b), key=lambda outcome: outcome.row.values["batch_size"])
    val_s, val_l = small.row.metrics.get("best_val_loss"), large.row.metrics.get("best_val_loss")
    train_s, train_l = small.row.metrics.get("best_train_loss"), large.row.metrics.get("best_train_loss")
    if val_s is None or val_l is None or train_s is None or train_l is None:
        return None
    if not _below(val_s, val_l) or not _below(small.row.lambda_max, large.row.lambda_max):
        return None
    assert val_s.mean is not None and val_l.mean is not None and train_s.mean is not None and train_l.mean is not None
    train_excess, val_excess = train_l.mean - train_s.mean, val_l.mean - val_s.mean
    if train_excess > max(NOISE_SE * (_se(train_s, train_l) or 0.0), TRAIN_SHARE * val_excess):
        return None  # the larger batch fits worse: its validation loss follows its training loss
    batches = small.row.values["batch_size"], large.row.values["batch_size"]
    return SweepFinding(
        code="large_batch_sharper_minimum",
        severity=Severity.warning,
        title=(
            f"batch {batches[1]} reaches a training loss like batch {batches[0]}'s ({train_l.mean:.3g} vs "
            f"{train_s.mean:.3g}) but a worse validation loss ({val_l.mean:.3g} vs {val_s.mean:.3g}) at a sharper "
            f"minimum (λmax {large.row.lambda_max.mean:.3g} vs {small.row.lambda_max.mean:.3g})"
        ),
        evidence={
            "small": _cell(small, "best_train_loss", "best_val_loss", sharpness=True),
            "large": _cell(large, "best_train_loss", "best_val_loss", sharpness=True),
            "val_loss_excess": _sig(val_excess),
            "val_loss_excess_se": _sig(_se(val_s, val_l)),
        },
        explanation=(
            "Large-batch training tends to converge to sharp minima, where the training loss rises steeply "
            "around the weights and generalizes worse; the gradient noise of small batches steers to flatter ones "
            '(Keskar et al., ICLR 2017, "On Large-Batch Training for Deep Learning: Generalization Gap and Sharp '
            'Minima"). Here both fit the training set, and the larger batch has the larger λmax (the largest '
            "Hessian eigenvalue) and the worse validation loss."
        ),
        remedy=_remedy(small, a, b),
    )


def check_optimizer_escapes_plateau(a: CellOutcome, b: CellOutcome) -> SweepFinding | None:
    for stuck, escaped in ((a, b), (b, a)):
        flat, moving = _curve(stuck, "train_loss"), _curve(escaped, "train_loss")
        if flat is None or moving is None or (drop := _plateau_drop(flat)) is None:
            continue
        if flat[-1] - moving[-1] < ESCAPE_SHARE * max(flat[0], moving[0]):
            continue
        window = _plateau_window(flat)
        return SweepFinding(
            code="optimizer_escapes_plateau",
            severity=Severity.warning,
            title=(
                f"cell {stuck.row.cell}'s training loss stayed at {flat[-1]:.3g} for its last {window} epochs "
                f"while cell {escaped.row.cell}'s fell to {moving[-1]:.3g}"
            ),
            evidence={
                "stuck": {**_cell(stuck), "train_loss": [_sig(v) for v in flat]},
                "escaped": {**_cell(escaped), "train_loss": [_sig(v) for v in moving]},
                "window": window,
                "plateau_drop": _sig(drop),
            },
            explanation=(
                "On a plateau or near a saddle point the gradient is small in every direction that lowers the "
                'loss, so plain gradient steps crawl (Dauphin et al., NeurIPS 2014, "Identifying and attacking the '
                'saddle point problem in high-dimensional non-convex optimization"). Momentum accumulates the small '
                'consistent gradient (Sutskever et al., ICML 2013, "On the importance of initialization and momentum '
                'in deep learning") and adaptive methods rescale it per parameter (Kingma & Ba, ICLR 2015, "Adam"): '
                "the other optimizer settings left the plateau this one stayed on."
            ),
            remedy=_remedy(escaped, a, b),
        )
    return None


def check_loss_function_trains_faster(a: CellOutcome, b: CellOutcome) -> SweepFinding | None:
    if a.task != "classification" or b.task != "classification":
        return None
    best_a, best_b = a.row.metrics.get("best_val_accuracy"), b.row.metrics.get("best_val_accuracy")
    curve_a, curve_b = _curve(a, "val_accuracy"), _curve(b, "val_accuracy")
    if best_a is None or best_b is None or best_a.mean is None or best_b.mean is None or not curve_a or not curve_b:
        return None
    target = TARGET_SHARE * max(best_a.mean, best_b.mean)
    reach = {a.row.cell: _epochs_to(curve_a, target), b.row.cell: _epochs_to(curve_b, target)}
    for fast, slow, fast_curve, slow_curve in ((a, b, curve_a, curve_b), (b, a, curve_b, curve_a)):
        fast_epochs, slow_epochs = reach[fast.row.cell], reach[slow.row.cell]
        slow_count = slow_epochs if slow_epochs is not None else len(slow_curve) + 1
        if (
            fast_epochs is None
            or fast_epochs > FASTER_RATIO * slow_count
            or slow_count - fast_epochs < MIN_EPOCHS_SOONER
        ):
            continue
        losses = fast.row.values.get("loss"), slow.row.values.get("loss")
        slower = f"{slow_epochs} epochs" if slow_epochs is not None else f"not within its {len(slow_curve)} epochs"
        why = (
            "Cross-entropy on softmax outputs keeps a gradient proportional to the error however saturated the "
            "softmax, while squared error's gradient carries the softmax's derivative and vanishes where it saturates "
            '(Golik, Doetsch & Ney, Interspeech 2013, "Cross-entropy vs. squared error training: a theoretical and '
            'experimental comparison").'
        )
        return SweepFinding(
            code="loss_function_trains_faster",
            severity=Severity.info,
            title=f"loss {losses[0]} reaches {target:.3g} validation accuracy in {fast_epochs} epochs, {losses[1]} {slower}",
            evidence={
                "target_val_accuracy": _sig(target),
                "fast": {**_cell(fast, "best_val_accuracy"), "epochs_to_target": fast_epochs},
                "slow": {**_cell(slow, "best_val_accuracy"), "epochs_to_target": slow_epochs},
                "epochs_run": {"fast": len(fast_curve), "slow": len(slow_curve)},
            },
            explanation=why + f" Here the {losses[0]} loss got there first.",
            remedy=_remedy(fast, a, b),
        )
    return None


def _norm_check(code: str, field: str, helps: Callable[[Any], bool], why: str) -> PairCheck:
    """A better validation loss beyond the noise, or its best epoch sooner beyond the noise at a validation loss
    no worse, for the cell whose `field` value `helps` accepts."""

    def check(a: CellOutcome, b: CellOutcome) -> SweepFinding | None:
        for better, other in ((a, b), (b, a)):
            value = _fields(better.row.values).get(field)
            val_b, val_o = better.row.metrics.get("best_val_loss"), other.row.metrics.get("best_val_loss")
            if not helps(value) or val_b is None or val_o is None:
                continue
            lower = _below(val_b, val_o)
            sooner = _below(better.row.best_epoch, other.row.best_epoch, at_least=MIN_EPOCHS_SOONER)
            if not lower and not (sooner and not _below(val_o, val_b)):
                continue
            assert val_b.mean is not None and val_o.mean is not None
            other_value = _fields(other.row.values).get(field, "the base's")
            return SweepFinding(
                code=code,
                severity=Severity.info,
                title=(
                    f"{field} {value}: best validation loss {val_b.mean:.3g} at epoch {_epoch(better)} vs "
                    f"{val_o.mean:.3g} at epoch {_epoch(other)} with {other_value}"
                ),
                evidence={
                    "better": _cell(better, "best_val_loss", epochs=True),
                    "other": _cell(other, "best_val_loss", epochs=True),
                    "lower_val_loss": lower,
                    "fewer_epochs": sooner,
                },
                explanation=why,
                remedy=_remedy(better, a, b),
            )
        return None

    return check


check_normalization_helps = _norm_check(
    "normalization_helps",
    "dataset.feature_norm",
    lambda value: isinstance(value, str) and value != "none",
    "Features on a common scale keep the Hessian of the first layer well conditioned, so one learning rate "
    'suits every direction (LeCun, Bottou, Orr & Müller, "Efficient BackProp", 1998).',
)
check_batchnorm_helps = _norm_check(
    "batchnorm_helps",
    "model.norm",
    lambda value: value == "batch",
    'Batch normalization smooths the loss landscape, allowing larger steps (Ioffe & Szegedy, ICML 2015, "Batch '
    'Normalization"; Santurkar et al., NeurIPS 2018, "How Does Batch Normalization Help Optimization?").',
)

# Each check with the fields its pairs may differ in (and nothing else), in the order the findings list.
PAIR_CHECKS: tuple[tuple[Callable[[str], bool], PairCheck], ...] = (
    (lambda path: path == "batch_size", check_large_batch_sharper_minimum),
    (lambda path: path.startswith("optimizer"), check_optimizer_escapes_plateau),
    (lambda path: path == "loss", check_loss_function_trains_faster),
    (lambda path: path == "dataset.feature_norm", check_normalization_helps),
    (lambda path: path == "model.norm", check_batchnorm_helps),
)


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    """A cell's grid values as dotted spec paths: an object value (a merge patch) opens into its fields."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= {f"{key}.{path}": inner for path, inner in _fields(value).items()}
        else:
            flat[key] = value
    return flat


def _differing(a: CellOutcome, b: CellOutcome) -> set[str]:
    fa, fb = _fields(a.row.values), _fields(b.row.values)
    return {path for path in fa.keys() | fb.keys() if fa.get(path, _ABSENT) != fb.get(path, _ABSENT)}


def _pairs(outcomes: list[CellOutcome], fields: Callable[[str], bool]) -> Iterator[tuple[CellOutcome, CellOutcome]]:
    for a, b in itertools.combinations(outcomes, 2):
        differing = _differing(a, b)
        if differing and all(fields(path) for path in differing):
            yield a, b


def _remedy(better: CellOutcome, a: CellOutcome, b: CellOutcome) -> dict[str, Any] | None:
    """The better cell's values for the grid keys the pair differs in, nested into one merge patch."""
    differing = _differing(a, b)
    patch: dict[str, Any] = {}
    for key, value in better.row.values.items():
        if any(path == key or path.startswith(f"{key}.") for path in differing):
            for part in reversed(key.split(".")):
                value = {part: value}
            patch = merge_patch(patch, value)
    return patch or None


def _se(a: Stat, b: Stat) -> float | None:
    """The standard error of the difference of two means (Welch's), None below two seeds in either."""
    if a.std is None or b.std is None:
        return None
    return math.sqrt(a.std**2 / a.n + b.std**2 / b.n)


def _below(low: Stat, high: Stat, *, at_least: float | None = None) -> bool:
    """`low`'s mean lies below `high`'s beyond the seed noise (needs two seeds in each)."""
    se = _se(low, high)
    if se is None or low.mean is None or high.mean is None:
        return False
    gap = high.mean - low.mean
    floor = MATERIAL * max(abs(low.mean), abs(high.mean)) if at_least is None else at_least
    return gap > NOISE_SE * se and gap >= floor and gap > 0


def _pooled_std(a: Stat, b: Stat) -> float | None:
    dof = a.n + b.n - 2
    if dof <= 0:
        return None
    return math.sqrt(((a.n - 1) * (a.std or 0.0) ** 2 + (b.n - 1) * (b.std or 0.0) ** 2) / dof)


def _seeds_needed(sigma: float, delta: float) -> int:
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    return math.ceil(2 * z**2 * sigma**2 / delta**2)


def _curve(outcome: CellOutcome, metric: str) -> list[float] | None:
    return None if outcome.curves is None else outcome.curves.get(metric) or None


def _plateau_window(curve: list[float]) -> int:
    return max(PLATEAU_MIN_EPOCHS, len(curve) // 2)


def _plateau_drop(curve: list[float]) -> float | None:
    """The relative drop over the curve's last half when that is a plateau, else None."""
    window = _plateau_window(curve)
    if len(curve) < window or curve[-window] <= 0:
        return None
    drop = (curve[-window] - curve[-1]) / curve[-window]
    return drop if drop < PLATEAU_DROP else None


def _epochs_to(curve: list[float], target: float) -> int | None:
    return next((epoch for epoch, value in enumerate(curve, start=1) if value >= target), None)


def _epoch(outcome: CellOutcome) -> str:
    mean = outcome.row.best_epoch.mean
    return "?" if mean is None else f"{mean:.3g}"


def _cell(outcome: CellOutcome, *metrics: str, sharpness: bool = False, epochs: bool = False) -> dict[str, Any]:
    row = outcome.row
    described: dict[str, Any] = {"cell": row.cell, "values": row.values}
    for name in metrics:
        if name in row.metrics:
            described[name] = _stat(row.metrics[name])
    if sharpness:
        described["lambda_max"] = _stat(row.lambda_max)
    if epochs:
        described["best_epoch"] = _stat(row.best_epoch)
    return described


def _stat(stat: Stat) -> dict[str, Any]:
    return {"mean": _sig(stat.mean), "std": _sig(stat.std), "n": stat.n}


def _sig(value: float | None) -> float | None:
    """4 significant digits for the evidence JSON."""
    return None if value is None else float(f"{value:.4g}")
