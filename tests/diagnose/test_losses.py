"""Loss-level rules: divergence, high training loss against the trivial predictor, overfitting, mismatch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.diagnose.builders import LN2, decay, healthy, make_facts, make_record, make_spec
from trainer.diagnose import losses
from trainer.diagnose.facts import trivial_loss
from trainwell.diagnosis import FindingCode, Severity


def test_trivial_loss_is_the_best_constant_prediction_in_the_jobs_loss() -> None:
    labels = np.array([0, 0, 0, 1])
    assert trivial_loss("cross_entropy", labels, 2) == pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))
    assert trivial_loss("mse", labels, 2) == pytest.approx((1 - 0.75**2 - 0.25**2) / 2)
    targets = np.array([-1.0, 0.0, 1.0, 4.0])
    assert trivial_loss("mse", targets, 0) == pytest.approx(targets.var())
    assert trivial_loss("mae", targets, 0) == pytest.approx(np.abs(targets - 0.5).mean())
    assert trivial_loss("huber", targets, 0) <= trivial_loss("mse", targets, 0) / 2 + 1e-9


def test_a_non_finite_loss_is_a_critical_divergence_with_remedies() -> None:
    finding = losses.check_diverged(make_record({}, diverged="training loss became nan at fold 0 epoch 1 step 5"))
    assert finding is not None and finding.code == FindingCode.diverged and finding.severity == Severity.critical
    assert "nan" in finding.evidence["message"]
    assert {"optimizer": {"lr": 0.0001}} in [r.spec_patch for r in finding.remedies]  # default lr 0.001 ÷ 10
    assert losses.check_diverged(make_record()) is None


def test_a_loss_that_ends_far_above_the_trivial_predictor_is_exploding() -> None:
    record = make_record(train_loss=[0.7, 3.0, 9.0, 14.0], val_loss=[0.8, 2.0, 6.0, 6.2])
    finding = losses.check_loss_exploding(record)
    assert finding is not None and finding.evidence["last_loss"] == 6.2
    assert losses.check_loss_exploding(make_record()) is None


def test_high_training_loss_is_judged_against_the_trivial_predictor() -> None:
    at_chance = make_record(train_loss=[0.70] * 10, val_loss=[0.69] * 10)
    finding = losses.check_high_training_loss(at_chance)
    assert finding is not None and finding.severity == Severity.critical and finding.evidence["ratio"] > 0.9
    # the same absolute loss is low on a 10-class problem, whose trivial loss is ln 10
    ten_classes = make_record(train_loss=[0.7] * 10, val_loss=[0.69] * 10, facts=make_facts(trivial_loss=np.log(10)))
    assert losses.check_high_training_loss(ten_classes) is None


def test_a_small_model_is_flagged_so_the_verdict_can_read_model_bias() -> None:
    linear = make_record(train_loss=[0.69] * 10, val_loss=[0.69] * 10, spec=make_spec(model={"hidden": []}))
    big = make_record(train_loss=[0.69] * 10, val_loss=[0.69] * 10, facts=make_facts(parameters=50_000))
    assert losses.check_high_training_loss(linear).evidence["model_is_small"] is True  # type: ignore[union-attr]
    assert losses.check_high_training_loss(big).evidence["model_is_small"] is False  # type: ignore[union-attr]


def test_noisy_training_labels_alone_do_not_make_the_loss_high() -> None:
    # label noise inflates the training loss; validation rows (clean) show the model fits
    record = make_record(train_loss=[0.45] * 10, val_loss=[0.2] * 10)
    assert losses.check_high_training_loss(record) is None


def test_overfitting_needs_a_material_gap_and_a_low_training_loss() -> None:
    record = make_record(train_loss=decay(0.6, 0.001, 30), val_loss=[*decay(0.6, 0.3, 10), *np.linspace(0.3, 0.6, 20)])
    finding = losses.check_overfitting(record)
    assert finding is not None and finding.severity == Severity.critical and finding.evidence["gap"] > 0.5
    codes = [r.spec_patch for r in finding.remedies]
    assert {"early_stopping": {"patience": 5}} in codes
    # a small gap (5% of ln 2) is not overfitting, however large the ratio
    assert losses.check_overfitting(make_record(train_loss=[0.001] * 5, val_loss=[0.03] * 5)) is None
    assert losses.check_overfitting(make_record()) is None


def test_mismatch_needs_a_test_loss_beyond_the_noise_and_adversarial_validation_confirms_it() -> None:
    curves = {**healthy(), "test_loss": decay(0.6, 0.5, 20)}
    assert losses.mismatch_suspected(make_record(curves))
    confirmed = losses.check_mismatch(make_record(curves, facts=make_facts(adversarial_auc=0.95)))
    assert confirmed is not None and confirmed.severity == Severity.critical
    assert confirmed.evidence["adversarial_auc"] == 0.95
    # same features on both sides and a modest gap: a warning, not a verdict
    modest = {**healthy(), "test_loss": decay(0.6, 0.15, 20)}
    unconfirmed = losses.check_mismatch(make_record(modest, facts=make_facts(adversarial_auc=0.52)))
    assert unconfirmed is not None and unconfirmed.severity == Severity.warning
    # within the sampling noise of 160 validation rows: nothing
    assert losses.check_mismatch(make_record({**healthy(), "test_loss": decay(0.6, 0.09, 20)})) is None


def test_spread_over_k_folds_raises_the_mismatch_threshold() -> None:
    fold = healthy()
    tight = [{**fold, "test_loss": [t + 0.05 for t in fold["val_loss"]]} for _ in range(3)]
    spread = [{**f, "val_loss": [v + 0.1 * i for v in f["val_loss"]]} for i, f in enumerate(tight)]
    facts = make_facts(n_val=5000, n_test=5000, trivial_loss=LN2)
    assert losses.mismatch_threshold(make_record(folds=spread, facts=facts)) > losses.mismatch_threshold(
        make_record(folds=tight, facts=facts)
    )


def test_a_measured_standard_error_replaces_the_assumed_one() -> None:
    curves = {**healthy(), "test_loss": decay(0.6, 0.2, 20)}
    tight = make_record(curves, facts=make_facts(val_se=0.007, test_se=0.007))
    wide = make_record(curves, facts=make_facts(val_se=0.057, test_se=0.057))
    gap = losses.test_gap(tight) or 0.0
    assert losses.mismatch_threshold(tight) < gap < losses.mismatch_threshold(wide)
    beyond = losses.check_mismatch(tight)
    assert beyond is not None and beyond.severity != Severity.info and beyond.evidence["within_noise"] is False
    # a few confidently wrong test rows make the per-row losses spread wide: the same gap could be chance,
    # and with features alike it decides nothing
    noisy = losses.check_mismatch(dataclasses.replace(wide, facts=dataclasses.replace(wide.facts, adversarial_auc=0.5)))
    assert noisy is not None and noisy.severity == Severity.info and noisy.evidence["within_noise"] is True
    # ... but a classifier telling the test rows apart confirms it, whatever the losses' noise
    shifted = losses.check_mismatch(
        dataclasses.replace(wide, facts=dataclasses.replace(wide.facts, adversarial_auc=0.98))
    )
    assert shifted is not None and shifted.severity == Severity.critical and shifted.evidence["features_differ"]
