"""Rules on the shape of the loss curves: plateau, slow convergence, oscillation, validation turning up.

Windows are measured in epochs at the end of the run; "flat" and "material" are fractions of the
trivial predictor's loss (see losses.py), "beyond noise" is 3σ of the curve's successive-difference noise.
"""

from __future__ import annotations

import itertools
import statistics

from trainer.diagnose import remedies as fix
from trainer.diagnose.history import TRAIN, VAL, JobRecord, sig, step_noise
from trainer.diagnose.losses import CHANCE_LOSS, HIGH_LOSS, model_is_small
from trainer.diagnose.noise import SIGNIFICANT, TREND_P, compare_epochs, rising
from trainwell.diagnosis import Finding, FindingCode, Severity

MIN_EPOCHS = 5  # fewer epochs say nothing about a curve's shape
# Flat: the training loss moved by less than 1% of the trivial loss over the last quarter of the run
# (at least 5 epochs). Progress that slow would need 50+ more such windows to halve a high loss.
FLAT = 0.01
# Still descending: over the last quarter, the loss fell by ≥ 3% of the trivial loss, beyond 3σ of its noise.
DESCENDING = 0.03
# Oscillating: over the last 10 epochs, the direction flips at least every other epoch and the mean jump
# is ≥ 2% of the trivial loss (smaller jitter near a low loss is mini-batch noise, not a step-size problem).
FLIP_SHARE = 0.5
JUMP = 0.02
# Validation turning up: the last validation loss is above its minimum by ≥ 2% of the trivial loss and
# beyond its noise (2 standard errors of the curve's jitter or of the validation rows' sampling,
# noise.compare_epochs), the minimum is ≥ 3 epochs back, the curve since trends up (Kendall's τ,
# noise.rising), and the training loss kept falling meanwhile. A material rise within the noise is `info`.
RISE = 0.02
# Best epoch early: the best validation epoch lies in the first half of a run of ≥ 10 epochs, and the
# last epoch is worse than it beyond the noise.
EARLY_RUN = 10


def _window(job: JobRecord) -> int:
    return max(MIN_EPOCHS, job.epochs // 4)


def is_flat(job: JobRecord) -> bool:
    train = job.series(TRAIN)
    if len(train) < MIN_EPOCHS:
        return False
    recent = train[-_window(job) :]
    return max(recent) - min(recent) < FLAT * job.facts.trivial_loss


def is_stalled(job: JobRecord) -> bool:
    """A flat training loss at a high level."""
    ratio = job.fit_ratio()
    return ratio is not None and ratio >= HIGH_LOSS and is_flat(job)


def check_plateau(job: JobRecord) -> Finding | None:
    ratio = job.fit_ratio()
    if ratio is None or not is_stalled(job):
        return None
    spec, window, small = job.spec, _window(job), model_is_small(job)
    recent = job.series(TRAIN)[-window:]
    if small:  # a linear model's loss is convex, and a small model has few ways to bend: the plateau is its best
        severity = Severity.info
        why = (
            "A model this small (linear, or with fewer parameters than training rows) has likely reached the best it "
            "can represent: for a linear model the loss is convex, so this plateau is its minimum."
        )
        remedies = fix.present(job, fix.bigger(job))
    else:
        severity = Severity.critical if ratio >= CHANCE_LOSS else Severity.warning
        why = (
            "A network stalled at a high loss sits on a flat region or near a saddle point: the gradient is too small "
            "to make progress, though the model could represent more."
        )
        remedies = fix.present(
            job, fix.adam(spec), fix.momentum(spec), fix.relu(spec), fix.batch_norm(spec), fix.raise_lr(spec)
        )
    return Finding(
        code=FindingCode.plateau,
        severity=severity,
        title=f"the training loss stayed at {recent[-1]:.3g} for the last {window} epochs",
        evidence={"epochs": window, "from": sig(recent[0]), "to": sig(recent[-1]), "ratio_to_trivial": sig(ratio)},
        explanation=why,
        remedies=remedies,
    )


def check_slow_convergence(job: JobRecord) -> Finding | None:
    """The training loss still falling steeply when the run ended: it had not converged.

    Over the last quarter (≥ 5 epochs) of a longer run; in a run of 2–4 epochs, every epoch lower than the
    one before and the last one's drop material (DESCENDING) — too few epochs for a noise estimate, but a
    descent that steady is no noise."""
    train, ratio = job.series(TRAIN), job.fit_ratio()
    if len(train) < 2 or ratio is None:
        return None
    material = DESCENDING * job.facts.trivial_loss
    if len(train) < MIN_EPOCHS:
        window, drop = len(train) - 1, train[0] - train[-1]
        steady = all(b < a for a, b in itertools.pairwise(train)) and train[-2] - train[-1] >= material
        if not steady:
            return None
    else:
        window = _window(job)
        drop = train[-window - 1] - train[-1] if len(train) > window else train[0] - train[-1]
        if drop < max(material, 3 * step_noise(train[-2 * window :])):
            return None
    spec = job.spec
    # A small model's slow descent may be its convex loss nearing its own floor (model bias): only a last
    # epoch that still fell materially says that it had not converged.
    steep = train[-2] - train[-1] >= material
    high = ratio >= HIGH_LOSS and (steep or not model_is_small(job))
    return Finding(
        code=FindingCode.slow_convergence,
        severity=Severity.warning if high else Severity.info,
        title=f"the training loss was still falling ({drop:.3g} in the last {window} epochs): it had not converged",
        evidence={
            "epochs": window,
            "drop": sig(drop),
            "last_epoch_drop": sig(train[-2] - train[-1]),
            "last": sig(train[-1]),
            "ratio_to_trivial": sig(ratio),
        },
        explanation=(
            "Training stopped while the loss was still going down"
            + (
                ": the run ended far from a fit because it was too short, not because it was stuck — more "
                "epochs come first; if the descent is slow, larger steps."
                if high
                else "; more epochs may still help."
            )
        ),
        remedies=fix.present(job, fix.more_epochs(job), fix.raise_lr(spec), fix.adam(spec)),
    )


def check_oscillation(job: JobRecord) -> Finding | None:
    train = job.series(TRAIN)[-10:]
    if len(train) < MIN_EPOCHS + 1:
        return None
    steps = [b - a for a, b in itertools.pairwise(train)]
    flips = sum(1 for a, b in itertools.pairwise(steps) if a * b < 0) / (len(steps) - 1)
    jump = statistics.fmean(abs(step) for step in steps)
    if flips < FLIP_SHARE or jump < JUMP * job.facts.trivial_loss:
        return None
    spec = job.spec
    return Finding(
        code=FindingCode.oscillation,
        severity=Severity.warning,
        title=f"the training loss jumps up and down by {jump:.3g} per epoch",
        evidence={
            "epochs": len(train),
            "direction_changes": sig(flips),
            "mean_jump": sig(jump),
            "lr": spec.optimizer.lr,
        },
        explanation="Steps overshoot the valley floor and bounce between its walls: the learning rate is too large for this curvature.",
        remedies=fix.present(job, fix.lower_lr(spec), fix.cosine_schedule(spec), fix.clip_gradients(spec)),
    )


def check_validation_rising(job: JobRecord) -> Finding | None:
    val, train = job.series(VAL), job.series(TRAIN)
    if len(val) < MIN_EPOCHS:
        return None
    best = min(range(len(val)), key=val.__getitem__)
    rise = compare_epochs(job, VAL, best)
    if rise.difference < RISE * job.facts.trivial_loss or len(val) - 1 - best < 3 or not train[-1] < train[best]:
        return None
    trend = rising(val, best)
    noisy = not rise.significant or trend >= TREND_P
    spec = job.spec
    title = f"validation loss rose from {val[best]:.3g} (epoch {best + 1}) to {val[-1]:.3g} while training loss fell"
    if noisy:
        title += f", within the noise of {rise.noise}" if not rise.significant else ", with no steady upward trend"
    return Finding(
        code=FindingCode.validation_loss_rising,
        severity=Severity.info if noisy else Severity.warning,
        title=title,
        evidence={
            "best_epoch": best + 1,
            "best_val_loss": sig(val[best]),
            "last_val_loss": sig(val[-1]),
            "epochs": len(val),
            **rise.evidence(),
            "trend_p_value": sig(trend),
            "within_noise": noisy,
        },
        explanation=(
            "Past its best epoch the model kept improving on training rows at the expense of unseen ones: it began to overfit."
            if not noisy
            else "The validation loss ended above its best, but by no more than its noise allows: a few validation "
            "rows changing their predictions move it this much, so it shows no overfitting by itself."
        ),
        remedies=fix.present(job, fix.early_stopping(spec), fix.weight_decay(spec), fix.dropout(spec)),
    )


def check_best_epoch_early(job: JobRecord) -> Finding | None:
    val = job.series(VAL)
    if len(val) < EARLY_RUN or job.spec.early_stopping is not None:
        return None
    best = min(range(len(val)), key=val.__getitem__)
    worse = compare_epochs(job, VAL, best)
    if best + 1 > len(val) // 2 or worse.z < SIGNIFICANT:
        return None
    spec = job.spec
    return Finding(
        code=FindingCode.best_epoch_early,
        severity=Severity.info,
        title=f"the best validation epoch was {best + 1} of {len(val)}",
        evidence={
            "best_epoch": best + 1,
            "epochs": len(val),
            "best_val_loss": sig(val[best]),
            "last_val_loss": sig(val[-1]),
            **worse.evidence(),
        },
        explanation="The second half of the run did not improve the validation loss: it cost time and kept worse weights.",
        remedies=fix.present(job, fix.early_stopping(spec)),
    )


def check_training_above_validation(job: JobRecord) -> Finding | None:
    train, val, spec = job.at_end(TRAIN), job.at_end(VAL), job.spec
    inflated = spec.dataset.label_noise > 0 or spec.model.dropout > 0 or spec.augmentation.gaussian_noise > 0
    if train is None or val is None or not inflated or train < 1.5 * val or train - val < 0.05 * job.facts.trivial_loss:
        return None
    return Finding(
        code=FindingCode.training_loss_above_validation,
        severity=Severity.info,
        title=f"training loss {train:.3g} is above validation loss {val:.3g}",
        evidence={
            "train_loss": sig(train),
            "val_loss": sig(val),
            "label_noise": spec.dataset.label_noise,
            "dropout": spec.model.dropout,
            "gaussian_noise": spec.augmentation.gaussian_noise,
        },
        explanation=(
            "The training loss is measured with dropout and augmentation on and on the training labels (noisy ones, "
            "if label noise is set); the validation rows show how well the model really fits."
        ),
        remedies=fix.present(job, fix.clean_labels(spec)),
    )
