"""The fit diagnosis: why a run fits the way it does, and what to change (issue 4).

`diagnose(...)` is the one entry point; the worker calls it when a job ends (also a failed or diverged
one) with the metric history it collected, and stores the returned `Diagnosis`. Plain Python and
PyTorch: no SQL, HTTP or Celery. Deterministic: seeded from the spec, so recomputing gives the same
verdict and findings (only `curvature.seconds` varies).

Pipeline: data facts (trivial predictor's loss, sizes) from the job's own split → rules over the
metric history (rules.py) → adversarial validation when the test loss looks off → curvature at the
final weights (curvature.py) → probe runs when the training loss is high (probes.py): planned on the
first call, their results passed in on a later one → one verdict (verdict.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from trainer.callbacks import FitResult
from trainer.datasets import Dataset, DatasetError
from trainer.diagnose.adversarial import adversarial_auc
from trainer.diagnose.curvature import CurvatureBudget
from trainer.diagnose.facts import DataFacts, data_facts, facts_of, load_fold
from trainer.diagnose.history import History, JobRecord
from trainer.diagnose.losses import mismatch_suspected
from trainer.diagnose.probes import plan_probes, probe_findings
from trainer.diagnose.rules import curvature_finding, run_rules
from trainer.diagnose.verdict import decide
from trainer.diagnose.weights import job_curvature, test_gap_standard_error
from trainwell.diagnosis import Diagnosis, DiagnosisStatus, Probe
from trainwell.model_size import DataShape
from trainwell.spec import JobSpec

__all__ = ["DataFacts", "History", "JobRecord", "data_facts", "diagnose"]


def job_epochs(history: History) -> int:
    return max((len(values) for fold in history.values() for values in fold.values()), default=0)


def diagnose(
    spec: JobSpec,
    result: FitResult | None,
    history: History,
    *,
    failure_reason: str | None,
    train_seconds: float,
    data_dir: Path | None,
    curvature: bool = True,
    probes: Sequence[Probe] = (),
    plan: bool = False,
    max_parameters: int | None = None,
) -> Diagnosis:
    """Diagnose a finished (or failed, diverged, stopped) job.

    history: fold → metric name → per-epoch values, from the EpochRecords the job reported.
    failure_reason: the job's one-word error reason ("diverged", "exception", ...), None if it succeeded.
    train_seconds: the job's training time; the curvature analysis gets max(25% of it, 3 s).
    curvature: False skips the Hessian analysis (it also needs result.state_dict and finite weights).
    probes: finished probe jobs (issue 4, item 3), with their losses: they can decide the verdict.
    plan: without `probes`, plan the probe runs when the training loss is high; the diagnosis then comes
      back `running_probes`, its verdict provisional, with the probes to launch (no job ids yet). Their
      bigger model stays within `max_parameters`.
    """
    diverged = (result is not None and result.status == "diverged") or failure_reason == "diverged"
    message = (
        result.message if result is not None and result.message else failure_reason
    ) or "the loss became non-finite"
    fold = max(history) if history else 0  # the fold the final weights were trained on (the last one)
    try:
        dataset, data = load_fold(spec, data_dir, fold)
    except DatasetError as error:
        return Diagnosis(summary=f"No diagnosis: the dataset could not be loaded ({error}).", probes=list(probes))
    facts = facts_of(spec, dataset, data)
    weights = result.state_dict if result is not None and not diverged else None
    if weights is not None and job_epochs(history) > 0:
        facts = dataclasses.replace(facts, test_gap_se=test_gap_standard_error(spec, weights, dataset, data))
    job = JobRecord(spec, facts, history, message if diverged else None)
    if mismatch_suspected(job):
        auc = adversarial_auc(data.X_train, data.X_test, seed=spec.seed)
        job = JobRecord(spec, dataclasses.replace(job.facts, adversarial_auc=auc), history, job.diverged_message)
    findings = run_rules(job)
    analysis = None
    if curvature and weights is not None and job.epochs > 0:
        analysis = job_curvature(
            spec,
            weights,
            dataset,
            data,
            loss_scale=job.facts.trivial_loss,
            budget=CurvatureBudget.for_job(train_seconds),
        )
        findings.append(curvature_finding(analysis, job))
    if not findings and job.epochs == 0:
        return Diagnosis(
            summary=f"No diagnosis: the job ended before its first epoch ({failure_reason or 'no epochs'}).",
            curvature=analysis,
            probes=list(probes),
        )
    planned = plan_probes(job, data_shape(dataset), max_parameters) if plan and not probes else []
    findings += probe_findings(findings, probes)
    verdict, ordered, summary = decide(findings)
    if planned:
        summary = f"Provisional, until {len(planned)} probe run(s) finish — {summary}"
    return Diagnosis(
        status=DiagnosisStatus.running_probes if planned else DiagnosisStatus.ready,
        verdict=verdict,
        summary=summary,
        findings=ordered,
        curvature=analysis,
        probes=planned or list(probes),
    )


def data_shape(dataset: Dataset) -> DataShape:
    return DataShape(int(dataset.X.shape[1]), dataset.output_dim, dataset.image_shape)
