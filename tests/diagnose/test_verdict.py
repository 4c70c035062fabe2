"""The decision procedure: one verdict per job, the primary finding first, a one-sentence summary."""

from __future__ import annotations

import math

from tests.diagnose.builders import healthy, make_facts, make_record, make_spec
from trainer.diagnose.rules import run_rules
from trainer.diagnose.verdict import decide, good_fit_unsupported
from trainwell.diagnosis import Finding, FindingCode, Severity, Verdict
from trainwell.job import FailureReason


def _finding(code: FindingCode, severity: Severity = Severity.warning, **evidence: object) -> Finding:
    return Finding(code=code, severity=severity, title=code.value.replace("_", " "), evidence=evidence, explanation="")


HIGH_SMALL = _finding(FindingCode.high_training_loss, Severity.critical, train_loss=0.69, model_is_small=True)
HIGH_BIG = _finding(FindingCode.high_training_loss, Severity.critical, train_loss=0.69, model_is_small=False)


def test_divergence_wins_over_everything() -> None:
    verdict, ordered, summary, _ = decide(
        [
            HIGH_BIG,
            _finding(FindingCode.overfitting, Severity.critical),
            _finding(FindingCode.diverged, Severity.critical),
        ]
    )
    assert verdict == Verdict.diverged and ordered[0].code == FindingCode.diverged
    assert summary.startswith("Diverged") and summary.endswith(".") and summary.count(". ") == 0


def test_high_loss_on_a_small_model_without_pathology_is_model_bias() -> None:
    verdict, ordered, summary, _ = decide([_finding(FindingCode.local_minimum, Severity.info), HIGH_SMALL])
    assert verdict == Verdict.model_bias and ordered[0] is HIGH_SMALL
    assert "local minimum" in summary and "probe" in summary


def test_high_loss_with_an_optimization_pathology_is_optimization_with_that_pathology_primary() -> None:
    vanishing = _finding(FindingCode.vanishing_gradients, Severity.critical)
    plateau = _finding(FindingCode.plateau, Severity.critical)
    verdict, ordered, _, _ = decide([HIGH_BIG, plateau, vanishing])
    assert verdict == Verdict.optimization and ordered[0] is vanishing
    # a linear model's plateau (info) is its convex minimum, not an optimization failure
    verdict, _, _, _ = decide([HIGH_SMALL, _finding(FindingCode.plateau, Severity.info)])
    assert verdict == Verdict.model_bias


def test_high_loss_on_a_model_that_could_memorize_is_optimization() -> None:
    verdict, ordered, _, _ = decide([HIGH_BIG])
    assert verdict == Verdict.optimization and ordered[0] is HIGH_BIG


def test_overfitting_then_mismatch_then_good_fit() -> None:
    overfit = _finding(FindingCode.overfitting, Severity.critical)
    mismatch = _finding(FindingCode.mismatch, Severity.critical)
    assert decide([mismatch, overfit])[0] == Verdict.overfitting
    assert decide([mismatch])[0] == Verdict.mismatch
    assert decide([_finding(FindingCode.mismatch, Severity.warning)])[0] == Verdict.good_fit
    verdict, ordered, summary, _ = decide([])
    assert verdict == Verdict.good_fit and ordered == [] and summary.startswith("Good fit")


def test_a_critical_pathology_is_never_a_good_fit() -> None:
    dead = _finding(FindingCode.dying_relu, Severity.critical)
    assert decide([dead])[0] == Verdict.optimization


def test_findings_follow_the_primary_by_severity() -> None:
    info = _finding(FindingCode.large_batch, Severity.info)
    warning = _finding(FindingCode.validation_loss_rising, Severity.warning)
    overfit = _finding(FindingCode.overfitting, Severity.critical)
    _, ordered, _, _ = decide([info, warning, overfit])
    assert [f.code for f in ordered] == [
        FindingCode.overfitting,
        FindingCode.validation_loss_rising,
        FindingCode.large_batch,
    ]


def test_rules_and_verdict_end_to_end_on_synthetic_curves() -> None:
    assert decide(run_rules(make_record()))[0] == Verdict.good_fit
    chance = make_record(
        train_loss=[0.69] * 12, val_loss=[0.69] * 12, test_loss=[0.69] * 12, spec=make_spec(model={"hidden": []})
    )
    assert decide(run_rules(chance))[0] == Verdict.model_bias
    deep_sigmoid = make_record(
        {
            **healthy(12),
            "train_loss": [2.3] * 12,
            "val_loss": [2.3] * 12,
            "test_loss": [2.3] * 12,
            "grad_norm_first": [1e-5] * 12,
            "grad_norm_last": [0.45] * 12,
        },
        spec=make_spec("digits", model={"hidden": [64] * 6, "activation": "sigmoid"}),
        facts=make_facts(trivial_loss=2.302, parameters=25_000, n_train=1149),
    )
    verdict, ordered, _, _ = decide(run_rules(deep_sigmoid))
    assert verdict == Verdict.optimization and ordered[0].code == FindingCode.vanishing_gradients


def test_a_good_fit_needs_a_finished_run_whose_loss_was_measured() -> None:
    healthy_run = make_record()
    assert decide(run_rules(healthy_run))[0] == Verdict.good_fit
    assert good_fit_unsupported(healthy_run, None) is None
    assert "failed (exception) after 20 epoch(s)" in (good_fit_unsupported(healthy_run, FailureReason.exception) or "")
    unmeasured = make_record(train_loss=[math.nan] * 20)
    assert good_fit_unsupported(unmeasured, None) is not None
