"""Verdicts that know their noise: comparisons of losses judged in standard errors, competing findings
weighed by the loss they explain, a confidence on every verdict, and "not converged" told from "stuck"."""

from __future__ import annotations

import math

import numpy as np

from tests.diagnose.builders import decay, healthy, make_facts, make_record, make_spec
from tests.diagnose.test_diagnose import history_of
from tests.trainer.builders import train
from trainer.diagnose import diagnose, noise
from trainer.diagnose.confidence import with_seeds_sweep
from trainer.diagnose.rules import run_rules
from trainer.diagnose.verdict import decide
from trainwell.diagnosis import ConfidenceLevel, FindingCode, Severity, Verdict
from trainwell.spec import JobSpec
from trainwell.sweep import SweepRequest

IRIS_TRIVIAL = math.log(3)


def _standard_error(rows: np.ndarray) -> float:
    return float(rows.std(ddof=1) / math.sqrt(len(rows)))


def test_a_small_validation_sets_noise_is_not_read_as_overfitting() -> None:
    """Training and test loss ~0.002 (the model generalizes), validation 0.12 on 27 rows, best 0.05 at
    epoch 4: one borderline row of the 27 makes the gap. Its per-row losses, as the final weights give
    them: 26 rows at ~0.001 and one at 3.2."""
    val_rows = np.array([0.001] * 26 + [3.2])
    train_rows = np.full(96, 0.002) + np.linspace(-0.001, 0.001, 96)
    test_rows = np.full(27, 0.002)
    facts = make_facts(
        trivial_loss=IRIS_TRIVIAL,
        n_train=96,
        n_val=27,
        n_test=27,
        train_se=_standard_error(train_rows),
        val_se=_standard_error(val_rows),
        test_se=_standard_error(test_rows),
    )
    epochs = 20
    val = [
        0.6,
        0.2,
        0.08,
        0.05,
        0.07,
        0.09,
        0.06,
        0.1,
        0.08,
        0.11,
        0.07,
        0.12,
        0.09,
        0.1,
        0.13,
        0.08,
        0.11,
        0.12,
        0.1,
        0.12,
    ]
    curves = {**healthy(epochs), "train_loss": decay(0.9, 0.002, epochs, 0.5), "val_loss": val}
    curves["test_loss"] = decay(0.9, 0.002, epochs, 0.5)
    job = make_record(curves, spec=make_spec("iris", model={"hidden": [256, 256]}), facts=facts)
    findings = run_rules(job)
    by_code = {f.code: f for f in findings}
    # the gap is material (0.12 against 10% of ln 3) but a little over one standard error of 27 rows
    overfit = by_code[FindingCode.overfitting]
    assert overfit.severity == Severity.info and overfit.evidence["within_noise"] is True
    assert 0.9 < overfit.evidence["standard_errors"] < 1.3 and "27 validation rows" in overfit.evidence["noise"]
    decision = decide(findings, noise.decompose(job))
    assert decision.verdict == Verdict.good_fit
    assert decision.confidence.level in (ConfidenceLevel.low, ConfidenceLevel.medium)
    assert "27 validation rows" in decision.confidence.margin and "k-fold" in (decision.confidence.settle or "")
    assert "27 validation rows" in decision.summary and "confidence" in decision.summary


def test_with_more_validation_rows_the_same_gap_is_overfitting_with_high_confidence() -> None:
    """The same curves on 2,700 validation rows with the same spread per row: 10× smaller error."""
    val_rows = np.array(([0.001] * 26 + [3.2]) * 100)
    facts = make_facts(trivial_loss=IRIS_TRIVIAL, n_val=2700, val_se=_standard_error(val_rows), train_se=1e-5)
    curves = {**healthy(), "train_loss": decay(0.9, 0.002, 20, 0.5), "val_loss": decay(0.9, 0.12, 20, 0.5)}
    job = make_record(curves, facts=facts)
    decision = decide(run_rules(job), noise.decompose(job))
    assert decision.verdict == Verdict.overfitting and decision.confidence.level == ConfidenceLevel.high
    assert decision.findings[0].evidence["standard_errors"] > 5


def test_competing_findings_are_weighed_by_the_loss_each_explains() -> None:
    """Training 0.01, validation 0.22, test 4.16, adversarial AUC 1.0: the shift explains 3.94 of the
    test loss and the train→validation gap 0.21 — mismatch, with overfitting a secondary finding."""
    facts = make_facts(trivial_loss=IRIS_TRIVIAL, adversarial_auc=1.0, train_se=0.002, val_se=0.05, test_se=0.4)
    curves = {
        **healthy(),
        "train_loss": decay(0.9, 0.01, 20, 0.5),
        "val_loss": decay(0.9, 0.22, 20, 0.5),
        "test_loss": decay(0.9, 4.16, 20, 0.5),
    }
    job = make_record(curves, facts=facts)
    findings = run_rules(job)
    severities = {f.code: f.severity for f in findings}
    assert severities[FindingCode.overfitting] == Severity.critical == severities[FindingCode.mismatch]
    decision = decide(findings, noise.decompose(job))
    assert decision.verdict == Verdict.mismatch and decision.findings[0].code == FindingCode.mismatch
    assert FindingCode.overfitting in [f.code for f in decision.findings[1:]]
    assert "overfitting is a secondary finding" in decision.summary and "3.94" in decision.summary
    decomposition = noise.decompose(job)
    assert decomposition is not None and decomposition.shift_gap is not None
    assert decomposition.generalization_gap is not None
    assert math.isclose(decomposition.shift_gap.value, 3.94, rel_tol=0.01)
    assert math.isclose(decomposition.generalization_gap.value, 0.21, rel_tol=0.01)
    # and the other way round: a large generalization gap beside a small shift is overfitting
    small_shift = {**curves, "val_loss": decay(0.9, 2.5, 20, 0.5), "test_loss": decay(0.9, 3.2, 20, 0.5)}
    job = make_record(small_shift, facts=facts)
    assert decide(run_rules(job), noise.decompose(job)).verdict == Verdict.overfitting


def test_a_rising_validation_curve_is_judged_by_a_trend_test_and_the_rows_noise() -> None:
    rising = [*decay(0.6, 0.1, 10), *np.linspace(0.1, 0.4, 10)]
    many_rows = make_record(val_loss=rising, train_loss=decay(0.6, 0.01, 20), facts=make_facts(val_se=0.01))
    finding = next(f for f in run_rules(many_rows) if f.code == FindingCode.validation_loss_rising)
    assert finding.severity == Severity.warning and finding.evidence["trend_p_value"] < 0.05
    # one late jump after a flat stretch is no trend, however far it goes
    jump = [*decay(0.6, 0.1, 10), *([0.1] * 9), 0.4]
    one_jump = make_record(val_loss=jump, train_loss=decay(0.6, 0.01, 20), facts=make_facts(val_se=0.01))
    finding = next(f for f in run_rules(one_jump) if f.code == FindingCode.validation_loss_rising)
    assert finding.severity == Severity.info and finding.evidence["within_noise"] is True


def test_every_verdict_carries_a_confidence() -> None:
    records = {
        Verdict.good_fit: make_record(),
        Verdict.overfitting: make_record(train_loss=decay(0.6, 0.001, 20), val_loss=decay(0.6, 0.6, 20)),
        Verdict.model_bias: make_record(
            train_loss=[0.69] * 20, val_loss=[0.69] * 20, spec=make_spec(model={"hidden": []})
        ),
        Verdict.diverged: make_record(train_loss=[0.7, 3.0, 9.0, 14.0], val_loss=[0.8, 2.0, 6.0, 6.2]),
    }
    for expected, job in records.items():
        decision = decide(run_rules(job), noise.decompose(job))
        assert decision.verdict == expected, (expected, decision.summary)
        assert decision.confidence.level in set(ConfidenceLevel) and decision.confidence.margin
    assert decide(run_rules(records[Verdict.diverged])).confidence.level == ConfidenceLevel.high


def test_a_short_run_still_descending_had_not_converged_and_gets_more_epochs_first() -> None:
    """Three epochs of digits at a small Adam step: the loss falls ~0.1 an epoch and the gradient is
    still large. Not stuck — unfinished: more epochs come first, not BatchNorm."""
    spec = JobSpec.model_validate(
        {"dataset": {"name": "digits"}, "epochs": 3, "optimizer": {"name": "adam", "lr": 0.0002}, "seed": 0}
    )
    result, recorder = train(spec)
    diagnosis = diagnose(spec, result, history_of(recorder), failure_reason=None, train_seconds=1.0, data_dir=None)
    assert diagnosis.verdict == Verdict.optimization, diagnosis.summary
    primary = diagnosis.findings[0]
    assert primary.code == FindingCode.slow_convergence and "not converged" in diagnosis.summary
    assert primary.remedies[0].spec_patch == {"epochs": 6}
    assert diagnosis.curvature is not None and diagnosis.curvature.critical_point == "not_critical"
    assert diagnosis.confidence is not None and diagnosis.decomposition is not None


def test_a_stalled_run_gets_momentum_or_adam_first_not_more_epochs() -> None:
    stuck = make_record(
        train_loss=[0.69] * 20,
        val_loss=[0.69] * 20,
        spec=make_spec(optimizer={"name": "sgd", "lr": 0.001}),
        facts=make_facts(parameters=50_000),
    )
    decision = decide(run_rules(stuck))
    assert decision.verdict == Verdict.optimization
    assert decision.findings[0].code != FindingCode.slow_convergence
    assert "epochs" not in decision.findings[0].remedies[0].spec_patch


def test_a_verdict_more_seeds_would_settle_links_the_sweep_that_runs_them() -> None:
    """Three folds whose gaps spread widely: the folds set the noise, and a sweep over seeds settles it."""
    folds = [
        {**healthy(), "train_loss": decay(0.6, 0.01, 20), "val_loss": decay(0.6, gap, 20)} for gap in (0.2, 0.5, 0.9)
    ]
    job = make_record(folds=folds, facts=make_facts(train_se=1e-4, val_se=1e-3))
    decision = decide(run_rules(job), noise.decompose(job))
    assert decision.verdict == Verdict.overfitting and decision.confidence.level != ConfidenceLevel.high
    assert "folds" in decision.confidence.margin and "seeds" in (decision.confidence.settle or "")
    spec = make_spec(seed=7)
    linked = with_seeds_sweep(decision.confidence, spec)
    assert linked.sweep is not None
    request = SweepRequest.model_validate(linked.sweep)
    assert request.seeds == [7, 8, 9, 10, 11] and request.base == spec and request.grid == {"epochs": [spec.epochs]}
    # a confidence that more rows would settle links no sweep
    rows = with_seeds_sweep(decision.confidence.model_copy(update={"settle": "more validation rows"}), spec)
    assert rows.sweep is None
