"""Rules on the instrumentation: vanishing and exploding gradients, dead and saturated units, step size.

Each statistic is the median over the last half of the epochs: the state the run settled in, robust to
one odd epoch. Thresholds from AUTOTRAINER (Zhang et al., ICSE 2021) unless said otherwise.
"""

from __future__ import annotations

import itertools
import math

from trainer.diagnose import remedies as fix
from trainer.diagnose.history import JobRecord, last_half, median, sig
from trainwell.diagnosis import Finding, FindingCode, Severity
from trainwell.metrics import MetricName

VANISHING_RATIO = 1e-3  # AUTOTRAINER: first/last layer gradient ratio below 1e-3 ...
VANISHING_FIRST = 1e-4  # ... with the first layer's gradient norm below 1e-4
EXPLODING_RATIO = 70.0  # AUTOTRAINER: first/last layer gradient ratio above 70
DEAD_RELU = 0.7  # AUTOTRAINER: ≥ 70% of ReLU units output 0 for every row of a batch
SATURATED = 0.5  # AUTOTRAINER: > 50% of sigmoid/tanh inputs with |z| ≥ 5 (slope < 0.007)
# Update ratio ‖Δw‖/‖w‖ per step: Karpathy's rule of thumb is ~1e-3; two orders of magnitude either way
# (about [1e-5, 1e-1]) is too small to move or large enough to jump across the basin. The
# metric is per epoch; per step it is at least ratio/S (S steps in one direction) and about ratio/√S for
# noise-dominated steps. The small-side test uses ratio/√S, the large side ratio/S: each the lenient one.
UPDATE_TOO_SMALL = 1e-5
UPDATE_TOO_LARGE = 1e-1
JUMP_BACK = 0.1  # an epoch that undoes 10% of the trivial loss is a setback, not mini-batch noise


def _settled(job: JobRecord, name: MetricName) -> float | None:
    values = job.series(name.value)
    return median(last_half(values)) if values else None


def check_vanishing_gradients(job: JobRecord) -> Finding | None:
    first, last = _settled(job, MetricName.grad_norm_first), _settled(job, MetricName.grad_norm_last)
    if first is None or last is None or last <= 0:
        return None
    ratio = first / last
    if not (ratio < VANISHING_RATIO and first < VANISHING_FIRST):
        return None
    spec = job.spec
    return Finding(
        code=FindingCode.vanishing_gradients,
        severity=Severity.critical,
        title=f"the first layer gets {ratio:.1e} of the last layer's gradient",
        evidence={
            "grad_norm_first": sig(first),
            "grad_norm_last": sig(last),
            "ratio": sig(ratio),
            "depth": len(spec.model.hidden),
        },
        explanation=(
            "The gradient shrinks at every layer on its way back, so the first layers barely learn and the network "
            "acts as a fixed random feature map with a trained last layer. Saturating activations and depth cause it."
        ),
        remedies=fix.present(job, fix.relu(spec), fix.batch_norm(spec), fix.shallower(spec), fix.adam(spec)),
    )


def check_exploding_gradients(job: JobRecord) -> Finding | None:
    first, last = _settled(job, MetricName.grad_norm_first), _settled(job, MetricName.grad_norm_last)
    if first is None or last is None or last <= 0 or first / last <= EXPLODING_RATIO:
        return None
    spec = job.spec
    return Finding(
        code=FindingCode.exploding_gradients,
        severity=Severity.warning,
        title=f"the first layer's gradient is {first / last:.0f}× the last layer's",
        evidence={"grad_norm_first": sig(first), "grad_norm_last": sig(last), "ratio": sig(first / last)},
        explanation=(
            "The gradient grows on its way back through the layers (or the inputs are large), so the first layer "
            "takes steps far larger than the rest and one learning rate cannot suit both."
        ),
        remedies=fix.present(
            job, fix.normalize_features(spec), fix.clip_gradients(spec), fix.batch_norm(spec), fix.lower_lr(spec)
        ),
    )


def check_dying_relu(job: JobRecord) -> Finding | None:
    dead = _settled(job, MetricName.dead_relu_fraction)
    if dead is None or dead < DEAD_RELU:
        return None
    spec = job.spec
    return Finding(
        code=FindingCode.dying_relu,
        severity=Severity.critical,
        title=f"{dead:.0%} of the ReLU units are dead",
        evidence={"dead_relu_fraction": sig(dead), "lr": spec.optimizer.lr},
        explanation=(
            "A ReLU whose input is negative for every row outputs 0 and gets no gradient, so it never recovers. "
            "Large updates push units there; with most of them dead the network has lost most of its capacity."
        ),
        remedies=fix.present(job, fix.leaky_relu(spec), fix.lower_lr(spec), fix.batch_norm(spec)),
    )


def check_saturated_activations(job: JobRecord) -> Finding | None:
    saturated = _settled(job, MetricName.saturated_fraction)
    if saturated is None or saturated <= SATURATED:
        return None
    spec = job.spec
    return Finding(
        code=FindingCode.saturated_activations,
        severity=Severity.critical,
        title=f"{saturated:.0%} of the {spec.model.activation} inputs are saturated (|z| ≥ 5)",
        evidence={"saturated_fraction": sig(saturated), "activation": spec.model.activation},
        explanation="A saturated sigmoid or tanh has a slope near 0: gradients through it vanish and its unit stops learning.",
        remedies=fix.present(
            job, fix.relu(spec), fix.normalize_features(spec), fix.batch_norm(spec), fix.lower_lr(spec)
        ),
    )


def _loss_jumped(job: JobRecord) -> bool:
    """The loss shows the large steps: it rose between epochs by ≥ 10% of the trivial loss, or some epoch's
    loss was 1.5× the trivial predictor's (a random initialization starts near 1×).

    The update ratio alone is not enough: it is relative to ‖w‖, which is ~0 where the best weights are
    ~0 (a linear model on a symmetric problem), and there any step looks huge.
    """
    train, trivial = job.series(MetricName.train_loss.value), job.facts.trivial_loss
    rose = any(b - a >= JUMP_BACK * trivial for a, b in itertools.pairwise(train))
    return rose or max(train, default=0.0) >= 1.5 * trivial


def check_learning_rate(job: JobRecord) -> Finding | None:
    ratios = job.series(MetricName.update_ratio.value)
    if not ratios:
        return None
    steps, spec = job.facts.steps_per_epoch, job.spec
    largest = max(ratios) / steps  # one wild epoch is enough to do the damage
    typical = median(last_half(ratios)) / math.sqrt(steps)
    if largest > UPDATE_TOO_LARGE and _loss_jumped(job):
        return Finding(
            code=FindingCode.learning_rate_too_large,
            severity=Severity.warning,
            title=f"one step changed the weights by {_relative(largest)} of their norm",
            evidence={
                "update_ratio_per_step": sig(largest),
                "epoch_update_ratio": sig(max(ratios)),
                "lr": spec.optimizer.lr,
            },
            explanation="Steps that large jump across the basins of the loss instead of descending into one.",
            remedies=fix.present(job, fix.lower_lr(spec), fix.clip_gradients(spec)),
        )
    if typical < UPDATE_TOO_SMALL:
        return Finding(
            code=FindingCode.learning_rate_too_small,
            severity=Severity.warning,
            title=f"each step changes the weights by about {typical:.1e} of their norm",
            evidence={
                "update_ratio_per_step": sig(typical),
                "epoch_update_ratio": sig(median(last_half(ratios))),
                "lr": spec.optimizer.lr,
            },
            explanation="The steps are too small for the weights to move in the epochs given; the loss barely changes.",
            remedies=fix.present(job, fix.raise_lr(spec, 10.0), fix.adam(spec)),
        )
    return None


def _relative(ratio: float) -> str:
    return f"{ratio:.0%}" if ratio < 10 else f"{ratio:.3g}×"
