"""Curve-shape rules: plateau, slow convergence, oscillation, validation turning up, best epoch early."""

from __future__ import annotations

from tests.diagnose.builders import decay, make_record, make_spec
from trainer.diagnose import curves
from trainwell.diagnosis import FindingCode, Severity


def test_a_network_flat_at_chance_is_a_critical_plateau() -> None:
    finding = curves.check_plateau(make_record(train_loss=[0.693] * 12, val_loss=[0.693] * 12))
    assert finding is not None and finding.severity == Severity.critical
    assert (
        any(r.spec_patch.get("optimizer", {}).get("name") == "adam" for r in finding.remedies) is False
    )  # adam already
    assert finding.remedies  # batch norm, a larger lr, ...


def test_a_linear_models_plateau_is_its_minimum() -> None:
    record = make_record(train_loss=[0.69] * 12, val_loss=[0.69] * 12, spec=make_spec(model={"hidden": []}))
    finding = curves.check_plateau(record)
    assert finding is not None and finding.severity == Severity.info
    assert finding.remedies[0].spec_patch["model"]["hidden"] == [64, 64]


def test_a_low_flat_loss_is_convergence_not_a_plateau() -> None:
    assert curves.check_plateau(make_record(train_loss=[0.02] * 12, val_loss=[0.03] * 12)) is None


def test_slow_convergence_is_a_high_loss_still_falling() -> None:
    slow = [0.693 - 0.01 * epoch for epoch in range(20)]
    finding = curves.check_slow_convergence(make_record(train_loss=slow, val_loss=slow))
    assert finding is not None and finding.code == FindingCode.slow_convergence and finding.severity == Severity.warning
    assert {"epochs": 40} in [r.spec_patch for r in finding.remedies]
    assert curves.check_slow_convergence(make_record()) is None


def test_oscillation_is_a_loss_bouncing_by_a_material_amount() -> None:
    bouncing = [0.5, 0.3, 0.6, 0.35, 0.55, 0.3, 0.6, 0.32, 0.58, 0.31]
    finding = curves.check_oscillation(make_record(train_loss=bouncing, val_loss=bouncing))
    assert finding is not None and finding.evidence["direction_changes"] == 1.0
    jitter = [0.02 + 0.001 * (i % 2) for i in range(10)]  # mini-batch noise at a low loss
    assert curves.check_oscillation(make_record(train_loss=jitter, val_loss=jitter)) is None


def test_validation_turning_up_while_training_falls() -> None:
    val = [*decay(0.6, 0.2, 10, rate=0.8), *[0.2 + 0.02 * i for i in range(1, 11)]]
    record = make_record(train_loss=decay(0.6, 0.01, 20), val_loss=val)
    finding = curves.check_validation_rising(record)
    assert finding is not None and finding.evidence["best_epoch"] <= 11
    assert curves.check_best_epoch_early(record) is not None
    # with early stopping on, the early best epoch is what the job keeps: nothing to report
    stopped = make_record(train_loss=decay(0.6, 0.01, 20), val_loss=val, spec=make_spec(early_stopping={"patience": 5}))
    assert curves.check_best_epoch_early(stopped) is None


def test_training_above_validation_is_explained_only_when_the_spec_inflates_it() -> None:
    noisy = make_spec(dataset={"name": "moons", "label_noise": 0.3})
    record = make_record(train_loss=[0.45] * 10, val_loss=[0.2] * 10, spec=noisy)
    finding = curves.check_training_above_validation(record)
    assert finding is not None and finding.remedies[0].spec_patch == {"dataset": {"label_noise": 0.0}}
    assert curves.check_training_above_validation(make_record(train_loss=[0.45] * 10, val_loss=[0.2] * 10)) is None
