"""Instrumentation rules, with AUTOTRAINER's thresholds."""

from __future__ import annotations

from tests.diagnose.builders import healthy, make_facts, make_record, make_spec
from trainer.diagnose import gradients
from trainwell.diagnosis import FindingCode


def test_vanishing_gradients_need_both_the_ratio_and_a_tiny_first_layer() -> None:
    record = make_record(grad_norm_first=[1e-5] * 10, grad_norm_last=[0.4] * 10)
    finding = gradients.check_vanishing_gradients(record)
    assert finding is not None and finding.evidence["ratio"] < 1e-3
    # a small ratio with a first-layer gradient of normal size is not vanishing (AUTOTRAINER's second condition)
    assert (
        gradients.check_vanishing_gradients(make_record(grad_norm_first=[2e-4] * 10, grad_norm_last=[1.0] * 10)) is None
    )
    assert gradients.check_vanishing_gradients(make_record()) is None


def test_exploding_gradients_above_a_ratio_of_70() -> None:
    finding = gradients.check_exploding_gradients(make_record(grad_norm_first=[80.0] * 10, grad_norm_last=[1.0] * 10))
    assert finding is not None and finding.code == FindingCode.exploding_gradients
    assert (
        gradients.check_exploding_gradients(make_record(grad_norm_first=[60.0] * 10, grad_norm_last=[1.0] * 10)) is None
    )


def test_dying_relu_at_70_percent_and_saturation_above_half() -> None:
    assert gradients.check_dying_relu(make_record(dead_relu_fraction=[0.75] * 10)) is not None
    assert gradients.check_dying_relu(make_record(dead_relu_fraction=[0.6] * 10)) is None
    sigmoid = make_spec(model={"hidden": [32], "activation": "sigmoid"})
    finding = gradients.check_saturated_activations(make_record(saturated_fraction=[0.6] * 10, spec=sigmoid))
    assert finding is not None and {"model": {"activation": "relu"}} in [r.spec_patch for r in finding.remedies]
    assert gradients.check_saturated_activations(make_record(saturated_fraction=[0.5] * 10)) is None


def test_missing_instrumentation_finds_nothing() -> None:
    bare = {"train_loss": healthy()["train_loss"], "val_loss": healthy()["val_loss"]}
    record = make_record(bare)
    for rule in (
        gradients.check_vanishing_gradients,
        gradients.check_exploding_gradients,
        gradients.check_dying_relu,
        gradients.check_saturated_activations,
        gradients.check_learning_rate,
    ):
        assert rule(record) is None


def test_learning_rate_too_small_from_the_per_step_update_ratio() -> None:
    record = make_record(train_loss=[0.69] * 10, val_loss=[0.69] * 10, update_ratio=[2e-5] * 10)
    finding = gradients.check_learning_rate(record)  # 2e-5 per epoch of 10 steps: ~6e-6 per step
    assert finding is not None and finding.code == FindingCode.learning_rate_too_small
    assert {"optimizer": {"lr": 0.01}} in [r.spec_patch for r in finding.remedies]


def test_learning_rate_too_large_needs_the_loss_to_show_it() -> None:
    jumping = [0.69, 2.5, 0.9, 0.8, 0.75, 0.9, 0.7, 0.72, 0.7, 0.71]
    record = make_record(train_loss=jumping, val_loss=jumping, update_ratio=[5.0, *[0.3] * 9])
    finding = gradients.check_learning_rate(record)
    assert finding is not None and finding.code == FindingCode.learning_rate_too_large
    # the same update ratio on a smoothly falling loss: the weights were just small (‖w‖ ~ 0)
    smooth = make_record(update_ratio=[5.0, *[0.3] * 19], facts=make_facts(steps_per_epoch=10))
    assert gradients.check_learning_rate(smooth) is None
