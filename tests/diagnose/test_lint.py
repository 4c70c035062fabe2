"""Spec lint: the spec choices that explain a fit."""

from __future__ import annotations

from tests.diagnose.builders import make_facts, make_record, make_spec
from trainer.diagnose import lint
from trainwell.diagnosis import Severity


def test_mse_for_classification_points_to_cross_entropy() -> None:
    finding = lint.check_mse_for_classification(make_record(facts=make_facts(loss="mse", trivial_loss=0.25)))
    assert finding is not None and finding.remedies[0].spec_patch == {"loss": "cross_entropy"}
    assert lint.check_mse_for_classification(make_record(facts=make_facts(task="regression", loss="mse"))) is None


def test_unnormalized_features_of_very_different_scales() -> None:
    raw = make_spec(dataset={"name": "breast_cancer", "feature_norm": "none"})
    finding = lint.check_unnormalized_features(
        make_record(spec=raw, facts=make_facts(feature_scale_ratio=2e5, feature_scale=600.0))
    )
    assert finding is not None and finding.remedies[0].spec_patch == {"dataset": {"feature_norm": "standard"}}
    assert (
        lint.check_unnormalized_features(
            make_record(spec=raw, facts=make_facts(feature_scale_ratio=3.0, feature_scale=2.0))
        )
        is None
    )


def test_a_batch_of_half_the_training_rows_is_large() -> None:
    finding = lint.check_large_batch(make_record(spec=make_spec(batch_size=512), facts=make_facts(n_train=640)))
    assert finding is not None and finding.severity == Severity.info
    assert finding.remedies[0].spec_patch == {"batch_size": 64}
    assert lint.check_large_batch(make_record()) is None


def test_plain_sgd_stalled_on_a_plateau() -> None:
    sgd = make_spec(optimizer={"name": "sgd", "lr": 0.01}, model={"hidden": [64, 64]})
    stalled = make_record(train_loss=[0.69] * 12, val_loss=[0.69] * 12, spec=sgd, facts=make_facts(parameters=5000))
    finding = lint.check_sgd_without_momentum(stalled)
    assert finding is not None and {"optimizer": {"momentum": 0.9}} in [r.spec_patch for r in finding.remedies]
    with_momentum = make_spec(optimizer={"name": "sgd", "lr": 0.01, "momentum": 0.9})
    assert (
        lint.check_sgd_without_momentum(make_record(train_loss=[0.69] * 12, val_loss=[0.69] * 12, spec=with_momentum))
        is None
    )
