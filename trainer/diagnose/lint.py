"""Spec lint: choices in the spec that explain the fit, judged with the data facts and the curves."""

from __future__ import annotations

from trainer.diagnose import remedies as fix
from trainer.diagnose.curves import is_stalled
from trainer.diagnose.history import JobRecord, sig
from trainer.diagnose.losses import HIGH_LOSS, model_is_small
from trainwell.diagnosis import Finding, FindingCode, Severity

# Unnormalized features: the curvature a linear layer sees along a feature scales with its variance,
# so a 100:1 spread of feature stds is a 10⁴ condition number before the network adds its own; and a
# feature std ≥ 100 makes pre-activations ~100× the weights (saturation, huge first-layer gradients).
SCALE_SPREAD = 100.0
SCALE_LARGE = 100.0
# A batch of ≥ 50% of the training rows gives ≤ 2 steps per epoch and little gradient noise; large-batch
# training converges to sharper minima that generalize worse (Keskar et al., ICLR 2017).
LARGE_BATCH = 0.5


def _high(job: JobRecord) -> bool:
    ratio = job.fit_ratio()
    return ratio is not None and ratio >= HIGH_LOSS


def check_mse_for_classification(job: JobRecord) -> Finding | None:
    if job.facts.task != "classification" or job.facts.loss != "mse":
        return None
    return Finding(
        code=FindingCode.mse_for_classification,
        severity=Severity.warning if _high(job) else Severity.info,
        title="MSE loss on a classification task",
        evidence={"loss": "mse", "task": "classification"},
        explanation=(
            "On softmax outputs, MSE's gradient vanishes when the softmax saturates, right or wrong; cross-entropy's "
            "does not, which gives it an easier error surface for classification."
        ),
        remedies=fix.present(job, fix.cross_entropy(job.spec)),
    )


def check_unnormalized_features(job: JobRecord) -> Finding | None:
    spread, largest = job.facts.feature_scale_ratio, job.facts.feature_scale
    if job.spec.dataset.feature_norm != "none" or (spread < SCALE_SPREAD and largest < SCALE_LARGE):
        return None
    return Finding(
        code=FindingCode.unnormalized_features,
        severity=Severity.warning,
        title=f"unnormalized features: stds from {largest / spread:.3g} to {largest:.3g}",
        evidence={"feature_norm": "none", "largest_std": sig(largest), "std_spread": sig(spread)},
        explanation=(
            "Features on very different scales stretch the loss surface into a narrow valley: a learning rate small "
            "enough for the steep direction crawls along the flat one."
        ),
        remedies=fix.present(job, fix.normalize_features(job.spec)),
    )


def check_large_batch(job: JobRecord) -> Finding | None:
    rows = job.facts.n_train
    if job.spec.batch_size < LARGE_BATCH * rows:
        return None
    return Finding(
        code=FindingCode.large_batch,
        severity=Severity.info,
        title=f"batch size {job.spec.batch_size} for {rows} training rows",
        evidence={
            "batch_size": job.spec.batch_size,
            "training_rows": rows,
            "steps_per_epoch": job.facts.steps_per_epoch,
        },
        explanation=(
            "With a batch this large a whole epoch is one or two steps, and the little gradient noise left lets "
            "training settle into sharp minima that generalize worse."
        ),
        remedies=fix.present(job, fix.smaller_batch(job.spec, rows)),
    )


def check_sgd_without_momentum(job: JobRecord) -> Finding | None:
    optimizer = job.spec.optimizer
    if optimizer.name != "sgd" or optimizer.momentum > 0 or not is_stalled(job) or model_is_small(job):
        return None
    return Finding(
        code=FindingCode.sgd_without_momentum,
        severity=Severity.warning,
        title="plain SGD (no momentum) stalled on a plateau",
        evidence={"optimizer": "sgd", "momentum": 0.0, "lr": optimizer.lr},
        explanation="Plain SGD moves by the local gradient only; on a plateau that is nearly zero, and momentum or Adam would keep going.",
        remedies=fix.present(job, fix.momentum(job.spec), fix.adam(job.spec)),
    )
