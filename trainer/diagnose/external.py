"""The diagnosis of a run from the user's own loop: the curve and gradient rules over what it logged.

Such a run has no JobSpec, no dataset the service can load and no weights, so the rules run over a
stand-in spec that claims nothing (no dropout, label noise, augmentation or early stopping), with the
data facts the run declared. Whatever rests on what the service does not have is left out, and the
diagnosis says so in a `not_examined` finding rather than skipping it silently:

- the trivial predictor's loss comes from the declared class prior (cross entropy: its entropy) or target
  variance (MSE: the variance); without one, the losses are judged against the first epoch's training
  loss (a fresh network predicts about the prior, losses.py) and "high training loss" is not judged;
- the curvature at the final weights, the test-gap error and adversarial validation need the weights
  or the data; probes and remedies launch trainwell jobs, which need a JobSpec;
- the rules that read the spec (lint.py), the update-ratio learning-rate check (it needs the steps per
  epoch) and the inflated-training-loss check (it needs the regularizers) have nothing to read.
"""

from __future__ import annotations

import math

from trainer.callbacks import FitResult
from trainer.diagnose import DiagnosisScope, curves, diagnose, gradients, lint, losses
from trainer.diagnose.facts import DataFacts
from trainer.diagnose.history import TRAIN, History, mean_curves
from trainer.diagnose.rules import RULES, Rule
from trainer.diagnose.verdict import decide
from trainwell.diagnosis import Diagnosis, Finding, FindingCode, Severity
from trainwell.job import FailureReason
from trainwell.model_size import DataShape
from trainwell.run import RunSpec
from trainwell.spec import JobSpec

# Rules with nothing to read in a run from the user's own loop (see the module's docstring).
NEEDS_SPEC: frozenset[Rule] = frozenset(
    {
        *(rule for rule in RULES if rule.__module__ == lint.__name__),
        gradients.check_learning_rate,
        curves.check_training_above_validation,
        losses.check_mismatch,
    }
)
RUN_RULES: tuple[Rule, ...] = tuple(rule for rule in RULES if rule not in NEEDS_SPEC)
WITHOUT_TRIVIAL: tuple[Rule, ...] = tuple(rule for rule in RUN_RULES if rule is not losses.check_high_training_loss)
# Evidence the rules take from the spec or the data facts: the stand-in's values, not the run's.
STAND_IN_EVIDENCE = frozenset(
    {"lr", "depth", "activation", "steps_per_epoch", "test_rows", "training_rows", "parameters"}
    | {"label_noise", "dropout", "gaussian_noise"}
)
LEFT_OUT = (
    "the curvature at the final weights (the service has no weights of this run)",
    "probe runs and launchable remedies (they are trainwell jobs, and this run has no job spec)",
    "the checks that read a job spec: the learning rate from update ratios, the loss, batch size and "
    "feature scaling, regularizers inflating the training loss",
    "a train/test mismatch (it needs the data)",
)


def trivial_loss(run: RunSpec) -> float | None:
    """The trivial predictor's loss in the run's loss, from what it declared; None when it cannot be told."""
    loss = run.resolved_loss
    if run.class_prior is not None and loss == "cross_entropy":
        return -math.fsum(p * math.log(p) for p in run.class_prior if p > 0)
    if run.target_variance is not None and loss == "mse":
        return run.target_variance
    return None


def diagnose_run(run: RunSpec, history: History, *, failure_reason: FailureReason | None, message: str) -> Diagnosis:
    """Diagnose the run from its logged history (fold → name → per-epoch values); `message` says how it
    diverged, when failure_reason is `diverged`."""
    trivial = trivial_loss(run)
    first = next(iter(mean_curves(history).get(TRAIN, [])), None)
    scale = trivial if trivial is not None else first
    notes = list(LEFT_OUT)
    if trivial is None:
        notes.insert(0, _no_trivial_reason(run))
    diverged = failure_reason is FailureReason.diverged
    if scale is None or not math.isfinite(scale) or scale <= 0:
        scale = 1.0  # no training loss to scale by: only the divergence can be judged
    facts = _facts(run, scale)
    result = FitResult(status="diverged", folds=[], task=run.task, message=message) if diverged else None
    diagnosis = diagnose(
        _stand_in(run),
        result,
        history,
        failure_reason=failure_reason,
        train_seconds=0.0,
        data_dir=None,
        scope=DiagnosisScope(curvature=False, plan_probes=False),
        facts=facts,
        rules=RUN_RULES if trivial is not None else WITHOUT_TRIVIAL,
    )
    findings = [_without_stand_in(finding) for finding in diagnosis.findings]
    summary, confidence = diagnosis.summary, diagnosis.confidence
    if diagnosis.verdict is not None:  # said again without the stand-in's remedies ("try lr ÷ 10 (0.001 → …)")
        _, findings, summary, confidence = decide(findings, diagnosis.decomposition)
    findings.append(_not_examined(notes, trivial))
    return diagnosis.model_copy(update={"findings": findings, "summary": summary, "confidence": confidence})


def _no_trivial_reason(run: RunSpec) -> str:
    if run.task == "classification":
        given = "a class_prior" if run.class_prior is None else f"a {run.resolved_loss} loss (only cross_entropy)"
    else:
        given = "a target_variance" if run.target_variance is None else f"a {run.resolved_loss} loss (only mse)"
    return (
        f"the trivial predictor's loss (the run declared no {given}): losses are judged against the first "
        "epoch's training loss, and whether the training loss is high is not judged"
    )


def _facts(run: RunSpec, trivial: float) -> DataFacts:
    outputs = run.classes or 1
    return DataFacts(
        task=run.task,
        loss=run.resolved_loss,
        trivial_loss=trivial,
        n_train=0,
        n_val=0,
        n_test=0,
        n_features=0,
        parameters=0,
        steps_per_epoch=1,
        feature_scale_ratio=1.0,
        feature_scale=1.0,
        shape=DataShape(1, outputs, None),
    )


def _stand_in(run: RunSpec) -> JobSpec:
    """A spec that claims nothing beyond the run's task: the rules read it, nothing else does."""
    dataset = "iris" if run.task == "classification" else "diabetes"
    return JobSpec.model_validate({"name": run.name, "dataset": {"name": dataset}, "loss": run.resolved_loss})


def _without_stand_in(finding: Finding) -> Finding:
    evidence = {k: v for k, v in finding.evidence.items() if k not in STAND_IN_EVIDENCE}
    return finding.model_copy(update={"evidence": evidence, "remedies": []})


def _not_examined(notes: list[str], trivial: float | None) -> Finding:
    return Finding(
        code=FindingCode.not_examined,
        severity=Severity.info,
        title="a run from your own loop: some checks do not apply",
        evidence={"not_examined": notes, "trivial_loss": trivial},
        explanation="Not examined: " + "; ".join(notes) + ". The findings above come from the logged curves.",
    )
