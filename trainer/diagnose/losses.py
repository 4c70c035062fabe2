"""Rules on the loss levels: divergence, high training loss, overfitting and train/test mismatch.

Each rule is a pure function of a `JobRecord` returning a Finding or None. Losses are judged against
the trivial predictor's loss on the same training labels (`DataFacts.trivial_loss`), so one threshold
means the same on every dataset and loss: as a fraction of it, a loss is how much of the label
uncertainty (cross-entropy) or variance (MSE) the model leaves unexplained.
"""

from __future__ import annotations

import math

from trainer.diagnose import remedies as fix
from trainer.diagnose.history import TEST, TRAIN, VAL, JobRecord, fold_spread, last_half, sig, step_noise
from trainer.diagnose.noise import SIGNIFICANT, compare, row_error
from trainwell.diagnosis import Finding, FindingCode, Severity

# "High" training loss: the model leaves at least half of the trivial predictor's loss unexplained, i.e.
# its features account for less than half the label entropy (cross-entropy) or R² < 0.5 (MSE).
HIGH_LOSS = 0.5
CHANCE_LOSS = 0.9  # ... and "no better than chance": within 10% of the trivial predictor
# A model is "small" when it cannot memorize its training rows: fewer parameters than rows (Zhang et al.,
# ICLR 2017: memorization takes p > n), or no hidden layer at all (a linear model's boundary is a plane).
# High loss on such a model, with nothing wrong in the optimization, is read as model bias.
EXPLODING_LOSS = 2.0  # a loss that ends at ≥ 2× the trivial predictor's (or its own first epoch's) went up
# Generalization gap that counts as overfitting: validation loses ≥ 10% of the trivial predictor's loss
# compared with training (10 points of R² for MSE), is at least twice the training loss, and is beyond
# the noise (noise.py: ≥ 2 standard errors, of the validation rows, the folds or the epochs).
GAP = 0.1
GAP_RATIO = 2.0
# Mismatch: test loss above validation loss by more than chance. Three noises, the largest wins: the
# validation curve's epoch-to-epoch noise and the spread over k folds (3σ each), and the sampling error of
# the two means: 2 standard errors (noise.py: measured from the per-row losses at the final weights when
# the diagnosis has them, else assumed). Plus a material floor of 2% of the trivial loss.
MATERIAL = 0.02
TEST_MUCH_WORSE = 2.0  # unconfirmed by the features, a test loss ≥ 2× validation is still a mismatch
# Adversarial validation: ROC AUC of a classifier telling training from test rows. 0.5 is chance; with a
# few hundred rows per side its standard error is ~0.03, so ≥ 0.7 is a real, not subtle, difference.
ADVERSARIAL_AUC = 0.7


def check_diverged(job: JobRecord) -> Finding | None:
    if job.diverged_message is None:
        return None
    spec = job.spec
    return Finding(
        code=FindingCode.diverged,
        severity=Severity.critical,
        title="the loss became NaN or infinite",
        evidence={"message": job.diverged_message, "epochs_finished": job.epochs, "lr": spec.optimizer.lr},
        explanation=(
            "An update was so large that the weights or the loss overflowed. Training cannot recover from a "
            "non-finite value; the step size must shrink, or the gradients be bounded."
        ),
        remedies=fix.present(
            job, fix.lower_lr(spec), fix.clip_gradients(spec), fix.normalize_features(spec), fix.batch_norm(spec)
        ),
    )


def check_loss_exploding(job: JobRecord) -> Finding | None:
    train, val = job.series(TRAIN), job.series(VAL)
    if not train:
        return None
    first, last = train[0], min(train[-1], val[-1] if val else train[-1])
    trivial = job.facts.trivial_loss
    # Training starts near the trivial loss (a fresh network predicts about the prior) and should go below it;
    # ending at twice it on both training and validation rows, or twice the first epoch's and above it, is divergence.
    if not (last >= EXPLODING_LOSS * trivial or (last >= EXPLODING_LOSS * first and last >= trivial)):
        return None
    spec = job.spec
    return Finding(
        code=FindingCode.loss_exploding,
        severity=Severity.critical,
        title=f"the loss ended at {last:.3g}, {last / trivial:.3g}× the trivial predictor's",
        evidence={
            "first_epoch_loss": sig(first),
            "last_loss": sig(last),
            "trivial_loss": sig(trivial),
            "epochs": len(train),
        },
        explanation=(
            "Training made the model far worse than predicting the average: the steps overshoot and throw the weights "
            "away, even where no value has overflowed yet."
        ),
        remedies=fix.present(job, fix.lower_lr(spec), fix.clip_gradients(spec), fix.normalize_features(spec)),
    )


def model_is_small(job: JobRecord) -> bool:
    no_hidden = job.spec.model.kind == "mlp" and not job.spec.model.hidden
    return no_hidden or job.facts.parameters < job.facts.n_train


def check_high_training_loss(job: JobRecord) -> Finding | None:
    ratio = job.fit_ratio()
    if ratio is None or ratio < HIGH_LOSS:
        return None
    spec, small = job.spec, model_is_small(job)
    chance = ratio >= CHANCE_LOSS
    what = "no better than predicting the class prior or mean" if chance else "far from fitting the data"
    return Finding(
        code=FindingCode.high_training_loss,
        severity=Severity.critical if chance else Severity.warning,
        title=f"the training loss is {ratio:.0%} of the trivial predictor's: {what}",
        evidence={
            "train_loss": sig(job.at_end(TRAIN)),
            "val_loss": sig(job.at_end(VAL)),
            "trivial_loss": sig(job.facts.trivial_loss),
            "ratio": sig(ratio),
            "epoch": job.end + 1,
            "parameters": job.facts.parameters,
            "training_rows": job.facts.n_train,
            "model_is_small": small,
        },
        explanation=(
            "A model that cannot fit its own training data has either too little capacity (model bias) or was "
            "not optimized well. A smaller model that cannot memorize its rows points to the former; the other "
            "findings point to the latter. A shallower and a bigger probe run settle it."
        ),
        remedies=fix.present(
            job,
            fix.bigger(job) if small else None,
            fix.adam(spec),
            fix.batch_norm(spec),
            fix.more_epochs(job),
            None if small else fix.bigger(job),
        ),
    )


def check_overfitting(job: JobRecord) -> Finding | None:
    """Validation well above training: critical when the gap is material and beyond its noise; `info`
    when it is material but within two standard errors (a small validation set's noise can make it)."""
    train, val, gap = job.at_end(TRAIN), job.at_end(VAL), compare(job, VAL, TRAIN)
    if train is None or val is None or gap is None:
        return None
    if not (gap.difference >= GAP * job.facts.trivial_loss and val >= GAP_RATIO * train):
        return None
    spec, noisy = job.spec, not gap.significant
    title = f"validation loss {val:.3g} against training loss {train:.3g}"
    if noisy:
        title += f", a gap within {SIGNIFICANT:g} standard errors of {gap.noise}"
    return Finding(
        code=FindingCode.overfitting,
        severity=Severity.info if noisy else Severity.critical,
        title=title,
        evidence={
            "train_loss": sig(train),
            "val_loss": sig(val),
            "gap": sig(gap.difference),
            "gap_over_trivial": sig(gap.difference / job.facts.trivial_loss),
            **gap.evidence(),
            "within_noise": noisy,
            "epoch": job.end + 1,
            "training_rows": job.facts.n_train,
            "validation_rows": job.facts.n_val,
            "parameters": job.facts.parameters,
        },
        explanation=(
            (
                "The validation loss is well above the training loss, but by less than its sampling noise: "
                f"{gap.noise} could make a gap this large from a model that generalizes. More validation rows "
                "or k-fold validation would tell."
            )
            if noisy
            else (
                "The model fits its training rows much better than rows it has not seen: it has learned "
                "particulars of the training set rather than the pattern behind it."
            )
        ),
        remedies=fix.present(
            job,
            fix.full_training_set(spec),
            fix.early_stopping(spec),
            fix.weight_decay(spec),
            fix.dropout(spec),
            fix.augmentation(spec),
            fix.smaller(spec),
        ),
    )


def mismatch_threshold(job: JobRecord) -> float:
    """How far test loss may exceed validation loss by chance alone (see the constants above)."""
    val = job.series(VAL)
    errors = [error for error in (row_error(job, VAL), row_error(job, TEST)) if error is not None]
    sampling = SIGNIFICANT * math.hypot(*errors) if errors else 0.0
    noise = 3 * max(step_noise(last_half(val, 5)), fold_spread(job.history, VAL))
    return max(noise, sampling, MATERIAL * job.facts.trivial_loss)


def test_gap(job: JobRecord) -> float | None:
    test, val = job.at_end(TEST), job.at_end(VAL)
    return None if test is None or val is None else test - val


def mismatch_suspected(job: JobRecord) -> bool:
    """Whether the test loss is above validation beyond noise, or by a material amount (GAP of the trivial
    loss) that a small test set's noise may hide: the cue to run adversarial validation."""
    gap = test_gap(job)
    return gap is not None and (gap > mismatch_threshold(job) or gap >= GAP * job.facts.trivial_loss)


def features_differ(job: JobRecord) -> bool:
    """Adversarial validation's AUC is beyond ADVERSARIAL_AUC and beyond 3 standard errors of chance for
    these sizes: √((n₁ + n₂ + 1) / (12·n₁·n₂)), the Mann–Whitney statistic's under no difference (Hanley &
    McNeil, Radiology 1982) — 0.07 for 96 training and 24 test rows, so a tiny test set needs more."""
    auc, rows, test_rows = job.facts.adversarial_auc, job.facts.n_train, job.facts.n_test
    if auc is None or rows < 1 or test_rows < 1:
        return False
    chance_se = math.sqrt((rows + test_rows + 1) / (12 * rows * test_rows))
    return auc >= max(ADVERSARIAL_AUC, 0.5 + 3 * chance_se)


def check_mismatch(job: JobRecord) -> Finding | None:
    """Test well above validation. Beyond its noise: critical when the features differ (adversarial
    validation) or the gap is gross, else a warning. A material gap within the test rows' noise is
    critical only when the features differ — their difference is evidence apart from the losses — and
    otherwise `info`: the fit is then in doubt, not shown to be a mismatch."""
    gap = test_gap(job)
    if gap is None or not mismatch_suspected(job):
        return None
    test, val, auc = job.at_end(TEST) or 0.0, job.at_end(VAL) or 0.0, job.facts.adversarial_auc
    noise = compare(job, TEST, VAL)
    beyond_noise = gap > mismatch_threshold(job)
    confirmed = features_differ(job)
    # unconfirmed by the features, only a gross gap (twice the loss, twice the chance threshold) is a verdict
    much_worse = test >= TEST_MUCH_WORSE * val and gap >= max(GAP * job.facts.trivial_loss, 2 * mismatch_threshold(job))
    if confirmed:
        how = f"a classifier tells training from test rows with ROC AUC {auc:.2f}: the features themselves differ"
    elif auc is not None:
        how = f"the features look alike (adversarial ROC AUC {auc:.2f}): the labels or their relation to the features may differ"
    else:
        how = "adversarial validation was not run"
    if confirmed or much_worse:
        severity = Severity.critical
    elif beyond_noise:
        severity = Severity.warning
    else:
        severity = Severity.info
    noisy = not beyond_noise and not confirmed
    title = f"test loss {test:.3g} against validation loss {val:.3g}"
    if noisy and noise is not None:
        title += f", a gap within the noise of {noise.noise}"
    return Finding(
        code=FindingCode.mismatch,
        severity=severity,
        title=title,
        evidence={
            "val_loss": sig(val),
            "test_loss": sig(test),
            "gap": sig(gap),
            "noise_threshold": sig(mismatch_threshold(job)),
            **(noise.evidence() if noise is not None else {}),
            "within_noise": noisy,
            "adversarial_auc": sig(auc),
            "features_differ": confirmed,
            "test_rows": job.facts.n_test,
        },
        explanation=(
            "The model does as well on held-out validation rows as expected, but worse on the test rows: the test "
            f"data do not come from the distribution it was trained on; {how}. A better model will not fix this — the data must."
        ),
        remedies=fix.present(job, fix.unshifted_test(job.spec), fix.augmentation(job.spec)),
    )
