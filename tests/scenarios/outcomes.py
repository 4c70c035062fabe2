"""Each scenario trained and diagnosed as the service would: the worker's diagnosis scope, with the
deployment's default limits, and its probe runs trained and settled in-process."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.settings import Settings
from tests.diagnose.test_diagnose import history_of
from tests.scenarios.catalog import Scenario
from tests.trainer.builders import train
from trainer import FitResult
from trainer.diagnose import DiagnosisScope, data_facts, diagnose
from trainer.diagnose.probes import settle
from trainwell.diagnosis import Diagnosis, Probe, patched_spec
from trainwell.job import FailureReason
from trainwell.spec import JobSpec

# what worker/diagnosis.py asks of a user's job on a deployment with the default settings
SERVICE_SCOPE = DiagnosisScope(curvature=True, plan_probes=True, limits=Settings().limits)


@dataclass
class Outcome:
    result: FitResult
    history: dict[int, dict[str, list[float]]]
    diagnosis: Diagnosis  # the rules' verdict: provisional when probes were planned
    trivial: float
    probed: Diagnosis  # settled with the probe runs the service would launch (the same when none)


def run_scenario(scenario: Scenario) -> Outcome:
    spec = scenario.job_spec()
    started = time.perf_counter()
    result, recorder = train(spec)
    seconds = time.perf_counter() - started
    history = history_of(recorder)
    failure = FailureReason.diverged if result.status == "diverged" else None
    diagnosis = diagnose(
        spec, result, history, failure_reason=failure, train_seconds=seconds, data_dir=None, scope=SERVICE_SCOPE
    )
    probed = (
        settle(diagnosis, [run_probe(spec, probe) for probe in diagnosis.probes]) if diagnosis.probes else diagnosis
    )
    return Outcome(result, history, diagnosis, data_facts(spec, None).trivial_loss, probed)


def run_probe(spec: JobSpec, probe: Probe) -> Probe:
    """What the worker does with a planned probe: train its spec, read its losses from the summary."""
    result, _ = train(patched_spec(spec, probe.spec_patch))
    return probe.with_outcome("succeeded", result.summary())
