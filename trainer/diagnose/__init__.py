"""The fit diagnosis: why a run fits the way it does, and what to change.

`diagnose(...)` is the one entry point; the worker calls it when a job ends (also a failed or diverged
one) with the metric history it collected, and stores the returned `Diagnosis`. Plain Python and
PyTorch: no SQL, HTTP or Celery. Deterministic: seeded from the spec, so recomputing gives the same
verdict and findings (only `curvature.seconds` varies).

Pipeline: data facts (trivial predictor's loss, sizes, shape) from the job's own split → rules over the
metric history (rules.py), each remedy within the service's limits (remedies.py) → adversarial
validation when the test loss looks off → curvature at the final weights (curvature.py) → one verdict
(verdict.py) → probe runs planned when the training loss is high (probes.py), whose results
`probes.settle` later turns into the final verdict.

Every diagnosis is final except one waiting for probes: `ready` with a verdict, or `not_applicable`
with a summary saying why the run has none (it trained no epoch, its data could not be loaded, it failed
before its losses could show a fit).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from trainer.callbacks import FitResult
from trainer.datasets import Dataset, DatasetError
from trainer.diagnose.adversarial import adversarial_auc
from trainer.diagnose.confidence import with_seeds_sweep
from trainer.diagnose.curvature import CurvatureBudget
from trainer.diagnose.facts import DataFacts, data_facts, facts_of, load_fold
from trainer.diagnose.history import History, JobRecord
from trainer.diagnose.losses import mismatch_suspected
from trainer.diagnose.noise import decompose
from trainer.diagnose.probes import plan_probes
from trainer.diagnose.rules import RULES, Rule, curvature_finding, run_rules
from trainer.diagnose.verdict import decide, good_fit_unsupported
from trainer.diagnose.weights import job_curvature, loss_standard_errors
from trainer.splits import FoldData
from trainwell.diagnosis import Curvature, Diagnosis, DiagnosisStatus, Finding, Verdict
from trainwell.job import FailureReason
from trainwell.limits import ServiceLimits
from trainwell.spec import JobSpec

__all__ = ["DataFacts", "DiagnosisScope", "History", "JobRecord", "data_facts", "diagnose", "not_applicable"]


@dataclass(frozen=True)
class DiagnosisScope:
    """How far a diagnosis goes beyond the rules, and the limits its remedies and probes stay within.

    curvature: the Hessian analysis at the final weights (it also needs the fit's weights, finite).
    plan_probes: when the training loss is high, plan the probe runs; the diagnosis then comes back
      `running_probes`, its verdict provisional, with the probes to launch (no job ids yet).
    limits: the deployment's limits on a submitted job; every remedy and probe is one they accept.
      None: only the JobSpec schema's own bounds apply (a diagnosis made outside the service).
    """

    curvature: bool = True
    plan_probes: bool = False
    limits: ServiceLimits | None = None


RULES_AND_CURVATURE = DiagnosisScope()


def job_epochs(history: History) -> int:
    return max((len(values) for fold in history.values() for values in fold.values()), default=0)


def diagnose(
    spec: JobSpec,
    result: FitResult | None,
    history: History,
    *,
    failure_reason: FailureReason | None,
    train_seconds: float,
    data_dir: Path | None,
    scope: DiagnosisScope = RULES_AND_CURVATURE,
    facts: DataFacts | None = None,
    rules: tuple[Rule, ...] = RULES,
) -> Diagnosis:
    """Diagnose a finished (or failed, diverged, stopped) job.

    history: fold → metric name → per-epoch values, from the EpochRecords the job reported.
    failure_reason: why the job failed, None if it did not.
    train_seconds: the job's training time; the curvature analysis gets max(25% of it, 3 s).
    facts: the data facts when there is no dataset to measure them on (a run from the user's own loop,
      trainer/diagnose/external.py); then nothing needs the data: no test-gap error, adversarial
      validation or curvature. rules: the rules to run (default: all).
    """
    diverged = (result is not None and result.status == "diverged") or failure_reason == FailureReason.diverged
    message = (
        result.message if result is not None and result.message else failure_reason
    ) or "the loss became non-finite"
    fold = max(history) if history else 0  # the fold the final weights were trained on (the last one)
    loaded: tuple[Dataset, FoldData] | None = None
    if facts is None:
        try:
            loaded = load_fold(spec, data_dir, fold)
        except DatasetError as error:
            return not_applicable(f"the dataset could not be loaded ({error})")
        facts = facts_of(spec, *loaded)
    if facts.trivial_loss <= 0:  # every rule judges a loss as a fraction of it
        return not_applicable("all training labels are the same, so there is no trivial predictor's loss to judge by")
    weights = result.state_dict if result is not None and not diverged and loaded is not None else None
    if weights is not None and loaded is not None and job_epochs(history) > 0:
        errors = loss_standard_errors(spec, weights, *loaded)
        facts = dataclasses.replace(facts, train_se=errors.train, val_se=errors.val, test_se=errors.test)
    job = JobRecord(spec, facts, history, message if diverged else None, limits=scope.limits)
    if job.epochs == 0 and not diverged:  # a loss that overflowed in the first epoch is evidence; nothing else is
        return not_applicable(f"the job ended before its first epoch ({failure_reason or 'no epochs'})")
    if loaded is not None and mismatch_suspected(job):
        auc = adversarial_auc(loaded[1].X_train, loaded[1].X_test, seed=spec.seed)
        job = dataclasses.replace(job, facts=dataclasses.replace(job.facts, adversarial_auc=auc))
    findings = run_rules(job, rules)
    analysis = None
    if scope.curvature and weights is not None and loaded is not None and job.epochs > 0:
        analysis = job_curvature(
            spec,
            weights,
            *loaded,
            loss_scale=job.facts.trivial_loss,
            budget=CurvatureBudget.for_job(train_seconds),
        )
        findings.append(curvature_finding(analysis, job))
    decomposition = decompose(job)
    verdict, ordered, summary, confidence = decide(findings, decomposition)
    confidence = with_seeds_sweep(confidence, spec)
    if verdict is Verdict.good_fit and (unsupported := good_fit_unsupported(job, failure_reason)) is not None:
        return not_applicable(unsupported, findings=ordered, curvature=analysis)
    # a failed run's losses stop short of its end: there is nothing final for a probe to beat
    planned = plan_probes(job) if scope.plan_probes and failure_reason is None else []
    if planned:
        summary = f"Provisional, until {len(planned)} probe run(s) finish — {summary}"
    return Diagnosis(
        status=DiagnosisStatus.running_probes if planned else DiagnosisStatus.ready,
        verdict=verdict,
        confidence=confidence,
        summary=summary,
        findings=ordered,
        curvature=analysis,
        probes=planned,
        decomposition=decomposition,
    )


def not_applicable(why: str, *, findings: list[Finding] | None = None, curvature: Curvature | None = None) -> Diagnosis:
    """The final diagnosis of a job that has no verdict; `why` (a phrase) becomes its summary."""
    return Diagnosis(
        status=DiagnosisStatus.not_applicable,
        summary=f"No verdict: {why}.",
        findings=findings or [],
        curvature=curvature,
    )
