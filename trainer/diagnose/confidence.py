"""How firmly a verdict stands: high, medium or low, the margin it rests on, and what would settle it.

The levels, by what decided the verdict:

- a divergence: high — a non-finite or exploding loss is unambiguous.
- a probe run: high when the probe removed at least half of the original's training loss, else medium
  (one run each: a sweep over seeds would show the spread).
- a training loss far from a fit: high when a specific pathology is critical (most units dead, a saddle
  with a way down); medium when it rests on a warning, on a descent that had not ended (a longer run
  would show where it goes), or on the model's size alone (the probe runs would confirm it).
- overfitting or mismatch: by the gap in standard errors (noise.py): ≥ 5 high, ≥ 3 medium, else low; a
  mismatch that adversarial validation did not confirm is at most medium, one it confirmed at least
  medium (the features' difference is evidence apart from the losses).
- a good fit: low when a gap was material but within its noise, or when the validation rows are too few
  for a material gap (losses.GAP of the trivial loss) to stand out from their noise; medium when a
  warning remains; high otherwise.

A medium or low confidence says what would settle it: more validation rows or k-fold validation (more
test rows, for the test gap) when the rows' sampling set the noise, more seeds (a sweep over `seeds`) when the folds or the epochs did,
the probe runs when the model's size decided.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from trainer.diagnose.losses import GAP
from trainer.diagnose.noise import SIGNIFICANT
from trainwell.diagnosis import (
    Confidence,
    ConfidenceLevel,
    Finding,
    FindingCode,
    LossDecomposition,
    Severity,
    Verdict,
)
from trainwell.spec import MAX_SEED, JobSpec

HIGH_Z = 5.0
MEDIUM_Z = 3.0
DECISIVE_PROBE_GAIN = 0.5  # a probe that removed half the original's training loss leaves no doubt
PROBES = (FindingCode.easier_probe_fits_better, FindingCode.bigger_probe_fits_better)
SWEEP_SEEDS = 5
ROWS = "more validation rows, or k-fold validation (dataset.validation.kfold)"
SEEDS = "more seeds: a sweep over `seeds` shows the spread"


def judge(
    verdict: Verdict, primary: Finding | None, findings: Sequence[Finding], decomposition: LossDecomposition | None
) -> Confidence:
    if verdict is Verdict.diverged:
        return _level(ConfidenceLevel.high, primary.title if primary else "the loss became non-finite")
    if primary is not None and primary.code in PROBES:
        gain = _number(primary.evidence.get("train_loss_gain"))
        margin = f"the probe removed {gain:.0%} of this job's training loss"
        if gain >= DECISIVE_PROBE_GAIN:
            return _level(ConfidenceLevel.high, margin)
        return _level(ConfidenceLevel.medium, margin, f"{SEEDS} of the job and its probe")
    if verdict in (Verdict.overfitting, Verdict.mismatch) and primary is not None:
        return _gap_confidence(verdict, primary)
    if verdict in (Verdict.optimization, Verdict.model_bias) and primary is not None:
        probed = any(f.code == FindingCode.probes_inconclusive for f in findings)
        if primary.code != FindingCode.high_training_loss and primary.severity == Severity.critical:
            return _level(ConfidenceLevel.high, primary.title)
        if primary.code == FindingCode.slow_convergence:  # not converged: a longer run shows where it goes
            return _level(ConfidenceLevel.medium, primary.title, "a longer run (the first remedy) would settle it")
        settle = None if probed else "the probe runs (diagnosis.probes: a shallower and a bigger model) would settle it"
        return _level(ConfidenceLevel.medium, primary.title, settle)
    return _good_fit_confidence(primary, findings, decomposition)


def _gap_confidence(verdict: Verdict, primary: Finding) -> Confidence:
    z = _number(primary.evidence.get("standard_errors"), math.inf)
    noise = primary.evidence.get("noise") or "the noise"
    gap = _number(primary.evidence.get("gap"))
    margin = (
        f"the gap of {gap:.3g} is {z:.1f} standard errors of {noise}" if math.isfinite(z) else f"a gap of {gap:.3g}"
    )
    level = ConfidenceLevel.high if z >= HIGH_Z else ConfidenceLevel.medium if z >= MEDIUM_Z else ConfidenceLevel.low
    auc = primary.evidence.get("adversarial_auc")
    if verdict is Verdict.mismatch:
        confirmed = primary.evidence.get("features_differ") is True
        if confirmed and level is ConfidenceLevel.low:  # the features' own difference is evidence of its own
            level = ConfidenceLevel.medium
            margin += f"; a classifier tells test from training rows (ROC AUC {auc:.2f})"
        elif not confirmed and level is ConfidenceLevel.high:
            level = ConfidenceLevel.medium
            margin += ", but the features of the test rows look like the training rows'"
    return _level(level, margin, None if level is ConfidenceLevel.high else _settle(str(noise)))


def _good_fit_confidence(
    primary: Finding | None, findings: Sequence[Finding], decomposition: LossDecomposition | None
) -> Confidence:
    noisy = [f for f in findings if f.evidence.get("within_noise")]
    if noisy:
        finding = noisy[0]
        noise = str(finding.evidence.get("noise") or "the validation rows")
        z = _number(finding.evidence.get("standard_errors"), 0.0)
        margin = f"{finding.title} ({z:.1f} standard errors): the noise could hide overfitting as well as make it"
        return _level(ConfidenceLevel.low, margin, _settle(noise))
    gap = decomposition.generalization_gap if decomposition is not None else None
    if gap is not None and gap.standard_error is not None and decomposition is not None:
        material = GAP * (decomposition.trivial_loss or 0.0)
        if material > 0 and SIGNIFICANT * gap.standard_error > material:
            margin = (
                f"a gap of {material:.3g}, enough to be overfitting, would be within {SIGNIFICANT:g} standard errors "
                f"({gap.standard_error:.3g}) of {gap.noise}"
            )
            return _level(ConfidenceLevel.low, margin, _settle(gap.noise or ""))
    if primary is not None and primary.severity != Severity.info:
        return _level(ConfidenceLevel.medium, f"no critical finding, but {primary.title}")
    if gap is not None and gap.standard_error:
        z = gap.value / gap.standard_error
        return _level(
            ConfidenceLevel.high, f"the validation loss is within {max(z, 0.0):.1f} standard errors of training"
        )
    return _level(ConfidenceLevel.high, "no finding stands out")


def with_seeds_sweep(confidence: Confidence, spec: JobSpec) -> Confidence:
    """`confidence` with, when more seeds would settle it, the sweep that runs them: the job's spec in one
    cell over SWEEP_SEEDS seeds, its own among them."""
    if not confidence.settle or SEEDS not in confidence.settle:
        return confidence
    seeds = [(spec.seed + offset) % (MAX_SEED + 1) for offset in range(SWEEP_SEEDS)]
    body = {
        "name": f"seeds of {spec.name}"[:200] if spec.name else "seeds of a diagnosed job",
        "base": spec.model_dump(mode="json"),
        "grid": {"epochs": [spec.epochs]},  # one cell: the spec as it is
        "seeds": seeds,
    }
    return confidence.model_copy(update={"sweep": body})


def _settle(noise: str) -> str:
    if "test rows" in noise:
        return "more test rows (a larger dataset.test_fraction) would settle it"
    return f"{ROWS if 'rows' in noise else SEEDS} would settle it"


def _level(level: ConfidenceLevel, margin: str, settle: str | None = None) -> Confidence:
    return Confidence(level=level, margin=margin, settle=settle)


def _number(value: object, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) else default
