"""From findings (+ curvature + optional probe results) to exactly one verdict, the primary finding first.

The procedure follows the table at the top of DESIGN.md, in the order a practitioner reads a run:

1. diverged — the loss became NaN/Inf, or grew far above where it started. Nothing else is meaningful.
2. the probe runs, when they showed something (probes.py): the easier (shallower) probe reaching a
   clearly lower training loss means the original could have represented that solution but did not find
   it: optimization. Otherwise a bigger probe doing much better (training and validation) means model bias.
3. training loss high (vs the trivial predictor), no probe deciding — fix training before generalization:
   b. any optimization pathology found (vanishing/saturated/dead units,
      exploding gradients, a bad learning rate, oscillation, a saddle point, a stalled or slow descent,
      a harder loss or feature scaling) makes it optimization, the most specific pathology primary.
   c. none, and the model is small (linear, or fewer parameters than training rows, so it cannot
      memorize): model bias. The curvature, when it found a local minimum, supports it. Without probe
      results the summary says that a probe would confirm it.
   d. none, and the model is big enough to memorize its rows: optimization — an over-parameterized
      network should fit its training set (Zhang et al., ICLR 2017) — with the high loss primary.
4–5. overfitting or mismatch — a critical finding of either (each is critical only beyond its noise:
   noise.py). When both are, they compete by explained loss: test loss = training loss + generalization
   gap (validation − training: overfitting's share) + shift gap (test − validation: mismatch's share).
   The verdict names the one whose gap explains more of the test loss; the other stays as a secondary
   finding, and the summary says so with both shares.
6. optimization — still, when a critical optimization pathology remains (most ReLUs dead, vanishing
   gradients): the losses came out acceptable by luck or early, but the run was unhealthy.
7. good fit — none of the above; remaining warnings stay listed (e.g. validation loss turning up).

A run still descending steeply at its end (slow_convergence: every recent epoch lower, by a material
amount, and the curvature finds the gradient still large) is an optimization verdict of its own kind —
it had not converged — whose first remedy is more epochs; a run stuck on a plateau or at a saddle point
gets momentum, Adam or normalization first. Stuck outranks not-converged only through the ordering of
OPTIMIZATION_EVIDENCE (a broken gradient flow comes first).

Each verdict carries a confidence (confidence.py): the margin it rests on and, when it is weak, what
would settle it.

"Good fit" is a claim about measured losses (low, and close together), so no findings is not enough:
`good_fit_unsupported` names the runs whose losses cannot carry it — a run that failed (it stopped before
it could show that it fits) and one whose training loss was never compared with the trivial predictor's.
Those get no verdict. A run with no epoch at all gets none either (trainer/diagnose/__init__.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from trainer.diagnose.confidence import judge
from trainer.diagnose.history import JobRecord
from trainwell.diagnosis import Confidence, Finding, FindingCode, LossDecomposition, Severity, Verdict
from trainwell.job import FailureReason

DIVERGENCE = (FindingCode.diverged, FindingCode.loss_exploding)
PROBED = (
    (FindingCode.easier_probe_fits_better, Verdict.optimization),
    (FindingCode.bigger_probe_fits_better, Verdict.model_bias),
)
# Optimization evidence, most specific first: the first one found becomes the primary finding.
OPTIMIZATION_EVIDENCE = (
    FindingCode.vanishing_gradients,
    FindingCode.saturated_activations,
    FindingCode.dying_relu,
    FindingCode.exploding_gradients,
    FindingCode.learning_rate_too_large,
    FindingCode.oscillation,
    FindingCode.learning_rate_too_small,
    FindingCode.saddle_point,
    FindingCode.slow_convergence,
    FindingCode.sgd_without_momentum,
    FindingCode.plateau,
    FindingCode.mse_for_classification,
    FindingCode.unnormalized_features,
)
LABELS = {
    Verdict.good_fit: "Good fit",
    Verdict.model_bias: "Model bias (the model is too simple)",
    Verdict.optimization: "Optimization problem",
    Verdict.overfitting: "Overfitting",
    Verdict.mismatch: "Train/test mismatch",
    Verdict.diverged: "Diverged",
}
SEVERITY_RANK = {Severity.critical: 0, Severity.warning: 1, Severity.info: 2}


COMPETING = ((FindingCode.overfitting, Verdict.overfitting), (FindingCode.mismatch, Verdict.mismatch))
SHARE = {FindingCode.overfitting: "the generalization gap", FindingCode.mismatch: "the shift to the test rows"}


class Decision(NamedTuple):
    verdict: Verdict
    findings: list[Finding]  # the primary first, the rest by severity
    summary: str  # one sentence
    confidence: Confidence


def decide(findings: Sequence[Finding], decomposition: LossDecomposition | None = None) -> Decision:
    """The verdict over `findings`, with its primary finding, summary and confidence. `decomposition`:
    the losses at the job's end with their noise, which a good fit's confidence reads."""
    by_code = {finding.code: finding for finding in findings}
    verdict, primary, note = _verdict(by_code)
    rest = sorted((f for f in findings if f is not primary), key=lambda f: SEVERITY_RANK[f.severity])
    ordered = [primary, *rest] if primary is not None else rest
    confidence = judge(verdict, primary, ordered, decomposition)
    return Decision(verdict, ordered, _summary(verdict, primary, note, confidence), confidence)


def _verdict(by_code: dict[FindingCode, Finding]) -> tuple[Verdict, Finding | None, str]:
    for code in DIVERGENCE:
        if code in by_code:
            return Verdict.diverged, by_code[code], ""
    for code, verdict in PROBED:
        if code in by_code:
            return verdict, by_code[code], "decided by the probe runs"
    high = by_code.get(FindingCode.high_training_loss)
    if high is not None:
        # the plateau of a linear model is its convex minimum (info severity): not an optimization failure
        evidence = [by_code[c] for c in OPTIMIZATION_EVIDENCE if c in by_code and by_code[c].severity != Severity.info]
        if evidence:
            return Verdict.optimization, evidence[0], ""
        probed = FindingCode.probes_inconclusive in by_code
        if high.evidence.get("model_is_small"):
            support = " at a local minimum" if FindingCode.local_minimum in by_code else ""
            confirm = "no probe did better either" if probed else "a bigger-model probe would confirm it"
            return Verdict.model_bias, high, f"a small model converged{support}; {confirm}"
        confirm = "no probe did better either" if probed else "a shallower probe would confirm it"
        return (
            Verdict.optimization,
            high,
            f"the model has the capacity to fit its training rows but did not; {confirm}",
        )
    competing = [(by_code[code], verdict) for code, verdict in COMPETING if _critical(by_code.get(code))]
    if competing:
        finding, verdict = max(competing, key=lambda pair: _gap(pair[0]))
        others = [other for other, _ in competing if other is not finding]
        return verdict, finding, _explained(finding, others)
    critical = [by_code[c] for c in OPTIMIZATION_EVIDENCE if c in by_code and by_code[c].severity == Severity.critical]
    if critical:  # the losses came out acceptable, but the run is broken (most units dead, say)
        return Verdict.optimization, critical[0], "the losses look acceptable, but training was unhealthy"
    # a good fit's primary: a warning that remains, else a comparison that was within its noise
    notable = [f for f in by_code.values() if f.severity != Severity.info]
    notable = notable or [f for f in by_code.values() if f.evidence.get("within_noise")]
    return Verdict.good_fit, min(notable, key=lambda f: SEVERITY_RANK[f.severity]) if notable else None, ""


def _critical(finding: Finding | None) -> bool:
    return finding is not None and finding.severity == Severity.critical


def _gap(finding: Finding) -> float:
    gap = finding.evidence.get("gap")
    return float(gap) if isinstance(gap, int | float) else 0.0


def _explained(primary: Finding, others: list[Finding]) -> str:
    """The shares of the test loss, when another critical finding competed with the primary one."""
    if not others:
        return ""
    other = others[0]
    return (
        f"{SHARE[primary.code]} explains {_gap(primary):.3g} of the loss, {SHARE[other.code]} {_gap(other):.3g}: "
        f"{other.code.value} is a secondary finding"
    )


def good_fit_unsupported(job: JobRecord, failure_reason: FailureReason | None) -> str | None:
    """Why this run's losses cannot make it a good fit (a phrase for the summary), or None when they can."""
    if failure_reason is not None:
        return f"the job failed ({failure_reason}) after {job.epochs} epoch(s); what it trained shows no fault"
    ratio = job.fit_ratio()
    if ratio is None or not math.isfinite(ratio):
        return "its training loss could not be compared with the trivial predictor's"
    return None


def _summary(verdict: Verdict, primary: Finding | None, note: str, confidence: Confidence) -> str:
    label = LABELS[verdict] + ("" if confidence.level == "high" else f" ({confidence.level} confidence)")
    if verdict is Verdict.good_fit and confidence.level != "high":  # what the fit's doubt rests on comes first
        sentence = f"{label}: {confidence.margin}"
        if primary is not None and primary.severity != Severity.info and primary.title not in confidence.margin:
            sentence += f"; {primary.title}"
    elif primary is None:
        sentence = f"{label}: no finding stands out; the losses are low and close together"
    else:
        sentence = f"{label}: {primary.title}"
        if note:
            sentence += f" ({note})"
        if verdict != Verdict.good_fit and primary.remedies:
            sentence += f"; try {primary.remedies[0].title}"
    if confidence.settle:
        sentence += f". {confidence.settle[0].upper()}{confidence.settle[1:]}"
    return sentence + "."
