"""The diagnosis of a run from the user's own loop: the rules over its logged curves, the trivial
predictor's comparison only from what it declared, and what is left out said in a finding."""

from __future__ import annotations

import math

from trainer.diagnose.external import diagnose_run, trivial_loss
from trainwell.diagnosis import DiagnosisStatus, FindingCode, Verdict
from trainwell.job import FailureReason
from trainwell.run import RunSpec

FLAT_HIGH = {0: {"train_loss": [2.25, 2.2, 2.19, 2.19, 2.18, 2.18, 2.18, 2.18], "val_loss": [2.26] * 8}}


def test_the_trivial_loss_comes_from_the_declared_prior_or_variance() -> None:
    prior = [0.25] * 4
    assert math.isclose(trivial_loss(RunSpec(task="classification", classes=4, class_prior=prior)), math.log(4))
    assert trivial_loss(RunSpec(task="regression", target_variance=3.0)) == 3.0
    assert trivial_loss(RunSpec(task="classification", classes=4)) is None
    assert trivial_loss(RunSpec(task="regression", loss="mae", target_variance=3.0)) is None


def test_a_declared_prior_lets_a_high_training_loss_be_judged() -> None:
    run = RunSpec(task="classification", classes=10, class_prior=[0.1] * 10)
    diagnosis = diagnose_run(run, FLAT_HIGH, failure_reason=None, message="")
    codes = [f.code for f in diagnosis.findings]
    assert FindingCode.high_training_loss in codes and diagnosis.verdict is not Verdict.good_fit
    assert all(not f.remedies for f in diagnosis.findings)  # no spec to patch
    assert all("lr" not in f.evidence and "parameters" not in f.evidence for f in diagnosis.findings)
    assert "lr ÷" not in diagnosis.summary  # the stand-in spec's learning rate is not the run's


def test_without_a_prior_the_diagnosis_says_what_it_did_not_judge() -> None:
    run = RunSpec(task="classification", classes=10)
    diagnosis = diagnose_run(run, FLAT_HIGH, failure_reason=None, message="")
    assert FindingCode.high_training_loss not in [f.code for f in diagnosis.findings]
    left_out = next(f for f in diagnosis.findings if f.code is FindingCode.not_examined)
    notes = " ".join(left_out.evidence["not_examined"])
    assert "trivial predictor" in notes and "curvature" in notes and "remedies" in notes
    assert diagnosis.curvature is None and not diagnosis.probes


def test_a_diverged_run_is_diagnosed_diverged_with_its_message() -> None:
    run = RunSpec(task="regression", target_variance=1.0)
    history = {0: {"train_loss": [1.0, 3.0, 40.0]}}
    diagnosis = diagnose_run(
        run, history, failure_reason=FailureReason.diverged, message="train_loss became nan at epoch 3, step 3"
    )
    assert diagnosis.status is DiagnosisStatus.ready and diagnosis.verdict is Verdict.diverged
    primary = diagnosis.findings[0]
    assert primary.code is FindingCode.diverged and "epoch 3" in primary.evidence["message"]
