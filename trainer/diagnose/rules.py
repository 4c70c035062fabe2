"""The rule engine: every rule over a job's record, and the findings the curvature analysis adds.

A rule is a pure function JobRecord → Finding | None (losses.py, curves.py, gradients.py, lint.py).
The order below is the tie-break among findings of equal severity when the verdict sorts them.
"""

from __future__ import annotations

from collections.abc import Callable

from trainer.diagnose import curves, gradients, lint, losses
from trainer.diagnose import remedies as fix
from trainer.diagnose.curvature import guaranteed_gain
from trainer.diagnose.history import JobRecord, sig
from trainwell.diagnosis import CriticalPoint, Curvature, Finding, FindingCode, Severity

Rule = Callable[[JobRecord], Finding | None]

RULES: tuple[Rule, ...] = (
    losses.check_diverged,
    losses.check_loss_exploding,
    losses.check_high_training_loss,
    gradients.check_vanishing_gradients,
    gradients.check_saturated_activations,
    gradients.check_dying_relu,
    gradients.check_exploding_gradients,
    gradients.check_learning_rate,
    curves.check_oscillation,
    curves.check_plateau,
    curves.check_slow_convergence,
    losses.check_overfitting,
    curves.check_validation_rising,
    curves.check_best_epoch_early,
    losses.check_mismatch,
    curves.check_training_above_validation,
    lint.check_sgd_without_momentum,
    lint.check_mse_for_classification,
    lint.check_unnormalized_features,
    lint.check_large_batch,
)


def run_rules(job: JobRecord, rules: tuple[Rule, ...] = RULES) -> list[Finding]:
    return [finding for rule in rules if (finding := rule(job)) is not None]


def curvature_finding(curvature: Curvature, job: JobRecord) -> Finding:
    """What the curvature at the final weights says, as a finding."""
    if curvature.critical_point is None:
        return Finding(
            code=FindingCode.curvature_skipped,
            severity=Severity.info,
            title="no curvature analysis",
            evidence={"reason": curvature.skipped_reason, "seconds": sig(curvature.seconds)},
            explanation="The Hessian at the final weights was not examined: "
            + (curvature.skipped_reason or "skipped")
            + ".",
        )
    evidence = {
        "gradient_norm": sig(curvature.gradient_norm),
        "lambda_max": sig(curvature.lambda_max),
        "lambda_min": sig(curvature.lambda_min),
        "guaranteed_gain": sig(guaranteed_gain(curvature.gradient_norm or 0.0, curvature.lambda_max or 0.0)),
        "rows": curvature.subset_rows,
    }
    spec, high = job.spec, (job.fit_ratio() or 0.0) >= losses.HIGH_LOSS
    if curvature.critical_point == CriticalPoint.saddle_point:
        escape = curvature.escape
        drop = escape.loss_before - escape.loss_after if escape else 0.0
        return Finding(
            code=FindingCode.saddle_point,
            severity=Severity.critical if high else Severity.warning,
            title=f"the run ended at a saddle point (λmin {curvature.lambda_min:.3g}, λmax {curvature.lambda_max:.3g})",
            evidence={**evidence, "escape_step": sig(escape.step) if escape else None, "escape_loss_drop": sig(drop)},
            explanation=(
                "The gradient is ~0, but the loss curves down along the eigenvector of the negative eigenvalue: this "
                f"is not a minimum. A step along it lowered the training loss by {drop:.3g}. Momentum or gradient noise carries training past saddles."
            ),
            remedies=fix.present(job, fix.momentum(spec), fix.adam(spec), fix.smaller_batch(spec, job.facts.n_train)),
        )
    if curvature.critical_point == CriticalPoint.local_minimum:
        return Finding(
            code=FindingCode.local_minimum,
            severity=Severity.info,
            title=f"the run ended at a local minimum (sharpness λmax {curvature.lambda_max:.3g})",
            evidence=evidence,
            explanation=(
                "The gradient is ~0 and no Hessian eigenvalue is clearly negative: training converged to a minimum of the "
                "training loss. λmax is its sharpness: flatter minima tend to generalize better."
            ),
        )
    return Finding(
        code=FindingCode.not_critical,
        severity=Severity.info,
        title=f"the gradient is still large at the final weights (norm {curvature.gradient_norm:.3g})",
        evidence=evidence,
        explanation="One more gradient step would still lower the training loss noticeably: training had not stopped descending.",
        remedies=fix.present(job, fix.more_epochs(job)),
    )
