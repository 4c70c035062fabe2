"""Every remedy and probe the diagnosis offers for the suite's scenarios is one the service accepts: the
patched spec validates as a JobSpec and the default deployment's `ServiceLimits` (the submit path's check)
admit it, so launching a remedy never answers 422. Reads the suite's shared outcomes (trained once)."""

from __future__ import annotations

from typing import Any

from core.settings import Settings
from tests.scenarios.catalog import SCENARIOS
from tests.scenarios.outcomes import Outcome
from trainwell.diagnosis import merge_patch, patched_spec
from trainwell.model_size import DATASET_SHAPES
from trainwell.spec import JobSpec


def test_every_remedy_and_probe_of_every_scenario_would_be_launched(outcomes: dict[str, Outcome]) -> None:
    limits = Settings().limits
    refused: list[str] = []
    checked = 0
    for scenario in SCENARIOS:
        spec, outcome = scenario.job_spec(), outcomes[scenario.name]
        shape = DATASET_SHAPES[spec.dataset.name]
        for diagnosis in (outcome.diagnosis, outcome.probed):
            for finding in diagnosis.findings:
                for remedy in finding.remedies:
                    # as POST /v1/jobs/{id}/remedies/{code} builds it: the patch, named after the remedy
                    patched: dict[str, Any] = merge_patch(spec.model_dump(mode="json"), remedy.spec_patch)
                    launched = JobSpec.model_validate({**patched, "name": remedy.title[:200]})
                    problem = limits.exceeded(launched, shape)
                    if problem is not None:
                        refused.append(f"{scenario.name} {finding.code} {remedy.title!r}: {problem.message}")
                    checked += 1
            for probe in diagnosis.probes:
                problem = limits.exceeded(patched_spec(spec, probe.spec_patch), shape)
                if problem is not None:
                    refused.append(f"{scenario.name} {probe.kind} probe: {problem.message}")
                checked += 1
    assert not refused, "\n".join(refused)
    assert checked >= 3 * len(SCENARIOS), f"only {checked} remedies and probes: the check says little"
