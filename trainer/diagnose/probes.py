"""Probe runs: the experiment that tells an optimization failure from model bias.

The test is the one taught for "the training loss is large" (Hung-yi Lee, ML 2021, "General guidance";
He et al., CVPR 2016, Fig. 1: a 56-layer network trained worse than a 20-layer one it could represent):
train a shallower network that is easy to optimize, and a bigger one. If the shallower one reaches a
lower training loss than the original deeper model, the original could have represented that solution
and did not find it — optimization. If only the bigger one does much better, the original lacked
capacity — model bias. Neither: the loss is what the data allows (noise), or both failed.

Plain Python on the spec and the findings: the worker turns the planned probes into child jobs and
settles the verdict when they end (worker/probes.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from trainer.diagnose.history import TRAIN, VAL, JobRecord, sig
from trainer.diagnose.noise import SIGNIFICANT, row_error
from trainer.diagnose.verdict import OPTIMIZATION_EVIDENCE, decide
from trainwell.diagnosis import (
    Diagnosis,
    DiagnosisStatus,
    Finding,
    FindingCode,
    Probe,
    ProbeKind,
    Remedy,
    Severity,
    patched_spec,
)
from trainwell.limits import ServiceLimits
from trainwell.model_size import DataShape
from trainwell.spec import JobSpec

# Probes run when the model leaves at least a quarter of the trivial predictor's loss unexplained. Below
# HIGH_LOSS (0.5) no rule calls the loss high, yet a linear model on moons (43%) or sine (32%) is clearly
# biased there, and only a bigger model's run can show it; under 25% the fit is good enough that a probe
# would rarely change the reading and would cost two jobs.
PROBE_TRIGGER = 0.25
PROBE_EPOCHS = 50  # probes are short; a probe that beats the original in fewer epochs is stronger evidence
PROBE_WIDTH = 64  # the bigger probe's narrowest layer
MAX_PROBE_WIDTH = 1024
MIN_PROBE_WIDTH = 8  # a bigger probe narrowed to fit the parameter limit stays at least this wide
MAX_PROBE_CHANNELS = 256
# What "does better" means. Where a rule already calls the training loss high, the probe only has to beat
# the original by more than run-to-run noise (seeds move a small network's final loss by a few percent):
# 10% for the easier probe; 20% for the bigger one, which must do "much better", and whose validation
# loss must improve too (≥ 10%) — a bigger network that only memorizes noisy labels lowers its training
# loss without any gain in capacity that matters. Where the loss is only moderately high (25–50% of the
# trivial loss), a probe must halve it to overturn a reading the rules did not flag.
# And every gain must stand beyond the sampling noise of the rows it is measured on (noise.py): the
# probe's mean loss on the same rows has about the original's standard error, so the difference must
# exceed SIGNIFICANT × √2 of it — on a small validation set, one borderline row can make a 10% "gain".
EASIER_GAIN = 0.10
BIGGER_GAIN = 0.20
BIGGER_VAL_GAIN = 0.10
MODERATE_GAIN = 0.50
# A probe's own settings, beyond its model: a plain, robust recipe (Adam at its default step, no schedule,
# no early stopping so it trains its whole budget, no instrumentation so it is cheap, no probes of its own).
# Regularizers (dropout, weight decay, augmentation, label noise) stay: they inflate the training loss, and
# the comparison must not reward a probe for dropping them.
PROBE_RECIPE: dict[str, Any] = {
    "schedule": {"name": "constant", "warmup_epochs": 0},
    "early_stopping": None,
    "instrumentation": {"enabled": False, "log_every_steps": 0},
    "diagnosis": {"probes": False},
}
PROBE_CODES = frozenset(
    {FindingCode.easier_probe_fits_better, FindingCode.bigger_probe_fits_better, FindingCode.probes_inconclusive}
)


def wants_probes(job: JobRecord) -> bool:
    ratio = job.fit_ratio()
    return job.spec.diagnosis.probes and job.diverged_message is None and ratio is not None and ratio >= PROBE_TRIGGER


def plan_probes(job: JobRecord) -> list[Probe]:
    """The probes to queue for this job (none, one or two), with the original's losses to compare against.
    Each probe's spec is one the service's limits accept (`job.limits`), as a submitted job's must be."""
    if not wants_probes(job):
        return []
    spec, probes = job.spec, []
    for kind in (ProbeKind.easier, ProbeKind.bigger):
        patch = probe_patch(spec, kind, job.facts.shape, job.limits)
        if patch is not None:
            probes.append(
                Probe(
                    kind=kind,
                    spec_patch=patch,
                    original_train_loss=_float(sig(job.at_end(TRAIN))),
                    original_val_loss=_float(sig(job.at_end(VAL))),
                    original_train_se=_float(sig(row_error(job, TRAIN))),
                    original_val_se=_float(sig(row_error(job, VAL))),
                )
            )
    return probes


def probe_patch(
    spec: JobSpec, kind: ProbeKind, shape: DataShape, limits: ServiceLimits | None
) -> dict[str, Any] | None:
    """The merge patch that makes the probe's spec from the original's; None when the probe would not differ
    from the original (the easier probe of a one-layer ReLU+BatchNorm+Adam model) or the limits admit no
    such probe. The bigger probe is narrowed (every width halved, down to 8) until the limits admit it."""
    model, optimizer = spec.model, spec.optimizer
    epochs = min(spec.epochs, PROBE_EPOCHS, limits.max_epochs if limits is not None else PROBE_EPOCHS)
    recipe: dict[str, Any] = {
        "model": {"activation": "relu", "norm": "batch", "norm_position": "before_activation"},
        "optimizer": {
            "name": "adamw" if optimizer.name == "adamw" else "adam",  # keep decoupled weight decay decoupled
            "lr": 0.001,
            "betas": [0.9, 0.999],
            "momentum": 0.0,
            "nesterov": False,
        },
        **PROBE_RECIPE,
        "epochs": epochs,
    }
    validation = spec.dataset.validation
    if hasattr(validation, "kfold"):  # one fold's worth of validation rows, on one split: a probe is short
        recipe["dataset"] = {"validation": {"kfold": None, "holdout": round(1.0 / validation.kfold, 4)}}
    if kind is ProbeKind.easier:
        recipe["model"] |= {"hidden": model.hidden[:1]}
        if model.kind == "cnn":
            recipe["model"]["channels"] = model.channels[:1]
        probe = patched_spec(spec, recipe)
        if (probe.model, probe.optimizer.name) == (model, optimizer.name) and optimizer.lr == 0.001:
            return None  # already the easy recipe: the probe would repeat the job
    else:
        widths = [min(max(2 * width, PROBE_WIDTH), MAX_PROBE_WIDTH) for width in model.hidden] or [PROBE_WIDTH]
        recipe["model"]["hidden"] = [*widths, widths[-1]]
        if model.kind == "cnn":
            recipe["model"]["channels"] = [min(2 * channels, MAX_PROBE_CHANNELS) for channels in model.channels]
        probe = patched_spec(spec, recipe)
        while limits is not None and not limits.fits(probe, shape) and max(probe.model.hidden) > MIN_PROBE_WIDTH:
            recipe["model"]["hidden"] = [max(MIN_PROBE_WIDTH, width // 2) for width in probe.model.hidden]
            probe = patched_spec(spec, recipe)
    if limits is not None and not limits.fits(probe, shape):
        return None  # even the narrowest such probe exceeds the service's limits: no probe of this kind
    name = f"{kind.value} probe of {spec.name}" if spec.name else f"{kind.value} probe"
    return {**recipe, "name": name[:200]}


def probe_findings(findings: Sequence[Finding], probes: Sequence[Probe]) -> list[Finding]:
    """What the finished probes show, as one finding (which the verdict reads before the loss rules)."""
    done = {p.kind: p for p in probes if p.train_loss is not None and p.original_train_loss is not None}
    if not done:
        return []
    # The rules already read the run as an optimization failure (a high training loss, or a critical
    # pathology such as most units dead): a probe need only confirm it. A bigger probe is also ReLU,
    # BatchNorm and Adam, so its gain over a broken run is partly the repair; against a critical
    # pathology only an easier probe that did no better lets it speak for capacity.
    high = any(
        f.code == FindingCode.high_training_loss
        or (f.code in OPTIMIZATION_EVIDENCE and f.severity == Severity.critical)
        for f in findings
    )
    easier, bigger = done.get(ProbeKind.easier), done.get(ProbeKind.bigger)
    if (
        easier is not None
        and _gain(easier.train_loss, easier.original_train_loss) >= (EASIER_GAIN if high else MODERATE_GAIN)
        and _beyond_noise(easier.train_loss, easier.original_train_loss, easier.original_train_se)
    ):
        return [_easier_finding(easier)]
    if (
        bigger is not None
        and _gain(bigger.train_loss, bigger.original_train_loss) >= (BIGGER_GAIN if high else MODERATE_GAIN)
        and _beyond_noise(bigger.train_loss, bigger.original_train_loss, bigger.original_train_se)
        and _gain(bigger.val_loss, bigger.original_val_loss) >= BIGGER_VAL_GAIN
        and _beyond_noise(bigger.val_loss, bigger.original_val_loss, bigger.original_val_se)
    ):
        return [_bigger_finding(bigger)]
    return [
        Finding(
            code=FindingCode.probes_inconclusive,
            severity=Severity.info,
            title="neither probe reached a clearly lower training loss",
            evidence={p.kind.value: _evidence(p) for p in done.values()},
            explanation=(
                "A shallower, easier-to-optimize model and a bigger one did about as well as the original: the "
                "training loss is close to what this data allows with these settings (label noise, a hard task), "
                "or every model here fails the same way."
            ),
        )
    ]


def settle(diagnosis: Diagnosis, probes: Sequence[Probe]) -> Diagnosis:
    """The provisional diagnosis made final with its finished probes: their finding added, the verdict
    decided again over everything. Idempotent (an earlier probe finding is replaced)."""
    findings = [f for f in diagnosis.findings if f.code not in PROBE_CODES]
    findings += probe_findings(findings, probes)
    verdict, ordered, summary, confidence = decide(findings, diagnosis.decomposition)
    return diagnosis.model_copy(
        update={
            "status": DiagnosisStatus.ready,
            "verdict": verdict,
            "confidence": confidence,
            "summary": summary,
            "findings": ordered,
            "probes": list(probes),
        }
    )


def _easier_finding(probe: Probe) -> Finding:
    return _probe_finding(
        probe,
        FindingCode.easier_probe_fits_better,
        "a shallower, easier-to-optimize probe reached training loss",
        explanation=(
            "The original model could represent what the probe found — a deeper network can mimic a shallower "
            "one — yet its training stopped higher. The obstacle is the optimization (depth, activation, "
            "normalization, optimizer or step size), not the model's capacity."
        ),
        remedy=(
            "the easier probe's model and optimizer",
            "the probe's model and optimizer reached the lower training loss on the same data",
        ),
    )


def _bigger_finding(probe: Probe) -> Finding:
    return _probe_finding(
        probe,
        FindingCode.bigger_probe_fits_better,
        "only a bigger probe did much better: training loss",
        explanation=(
            "An easier-to-optimize model of the original's size did not fit the data better, but a bigger one "
            "did, on the validation rows too: the original model is too simple for this data."
        ),
        remedy=(
            f"the bigger probe's model: hidden {probe.spec_patch.get('model', {}).get('hidden')}",
            "the probe showed that this capacity fits the training and the validation data better",
        ),
    )


def _probe_finding(probe: Probe, code: FindingCode, what: str, *, explanation: str, remedy: tuple[str, str]) -> Finding:
    """A probe that decides the verdict: its losses beside the original's, its settings as the remedy."""
    title, rationale = remedy
    return Finding(
        code=code,
        severity=Severity.critical,
        title=f"{what} {probe.train_loss:.3g} where this job reached {probe.original_train_loss:.3g}",
        evidence=_evidence(probe),
        explanation=explanation,
        remedies=[Remedy(title=title, rationale=rationale, spec_patch=_remedy_patch(probe))],
    )


def _remedy_patch(probe: Probe) -> dict[str, Any]:
    """The probe's model and optimizer as a remedy: without the probe-only settings (epochs, no early
    stopping, no instrumentation or probes, one validation split)."""
    return {key: value for key, value in probe.spec_patch.items() if key in ("model", "optimizer", "schedule")}


def _evidence(probe: Probe) -> dict[str, Any]:
    return {
        "probe_job_id": probe.job_id,
        "probe_kind": probe.kind.value,
        "probe_train_loss": probe.train_loss,
        "probe_val_loss": probe.val_loss,
        "original_train_loss": probe.original_train_loss,
        "original_val_loss": probe.original_val_loss,
        "train_loss_gain": sig(_gain(probe.train_loss, probe.original_train_loss)),
        "original_val_se": probe.original_val_se,
    }


def _beyond_noise(probe: float | None, original: float | None, standard_error: float | None) -> bool:
    """The probe's loss is below the original's by more than SIGNIFICANT·√2 standard errors (true when
    the error is unknown: a probe planned before it was measured)."""
    if probe is None or original is None:
        return False
    return standard_error is None or original - probe > SIGNIFICANT * math.sqrt(2) * standard_error


def _gain(probe: float | None, original: float | None) -> float:
    """The fraction of the original's loss the probe removed (negative when the probe did worse)."""
    if probe is None or original is None or original <= 0:
        return 0.0
    return 1.0 - probe / original


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
