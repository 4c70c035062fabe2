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
4. overfitting — training loss low, validation loss high (the critical overfitting finding).
5. mismatch — validation fine, test much worse (the critical mismatch finding).
6. optimization — still, when a critical optimization pathology remains (most ReLUs dead, vanishing
   gradients): the losses came out acceptable by luck or early, but the run was unhealthy.
7. good fit — none of the above; remaining warnings stay listed (e.g. validation loss turning up).

"Good fit" is a claim about measured losses (low, and close together), so no findings is not enough:
`good_fit_unsupported` names the runs whose losses cannot carry it — a run that failed (it stopped before
it could show that it fits) and one whose training loss was never compared with the trivial predictor's.
Those get no verdict. A run with no epoch at all gets none either (trainer/diagnose/__init__.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from trainer.diagnose.history import JobRecord
from trainwell.diagnosis import Finding, FindingCode, Severity, Verdict
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
    FindingCode.sgd_without_momentum,
    FindingCode.plateau,
    FindingCode.slow_convergence,
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


def decide(findings: Sequence[Finding]) -> tuple[Verdict, list[Finding], str]:
    """(verdict, findings with the primary first and the rest by severity, one-sentence summary)."""
    by_code = {finding.code: finding for finding in findings}
    verdict, primary, note = _verdict(by_code)
    rest = sorted((f for f in findings if f is not primary), key=lambda f: SEVERITY_RANK[f.severity])
    ordered = [primary, *rest] if primary is not None else rest
    return verdict, ordered, _summary(verdict, primary, note)


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
    for code, verdict in ((FindingCode.overfitting, Verdict.overfitting), (FindingCode.mismatch, Verdict.mismatch)):
        finding = by_code.get(code)
        if finding is not None and finding.severity == Severity.critical:
            return verdict, finding, ""
    critical = [by_code[c] for c in OPTIMIZATION_EVIDENCE if c in by_code and by_code[c].severity == Severity.critical]
    if critical:  # the losses came out acceptable, but the run is broken (most units dead, say)
        return Verdict.optimization, critical[0], "the losses look acceptable, but training was unhealthy"
    notable = [f for f in by_code.values() if f.severity != Severity.info]
    return Verdict.good_fit, min(notable, key=lambda f: SEVERITY_RANK[f.severity]) if notable else None, ""


def good_fit_unsupported(job: JobRecord, failure_reason: FailureReason | None) -> str | None:
    """Why this run's losses cannot make it a good fit (a phrase for the summary), or None when they can."""
    if failure_reason is not None:
        return f"the job failed ({failure_reason}) after {job.epochs} epoch(s); what it trained shows no fault"
    ratio = job.fit_ratio()
    if ratio is None or not math.isfinite(ratio):
        return "its training loss could not be compared with the trivial predictor's"
    return None


def _summary(verdict: Verdict, primary: Finding | None, note: str) -> str:
    if primary is None:
        return f"{LABELS[verdict]}: no finding stands out; the losses are low and close together."
    sentence = f"{LABELS[verdict]}: {primary.title}"
    if note:
        sentence += f" ({note})"
    if verdict != Verdict.good_fit and primary.remedies:
        sentence += f"; try {primary.remedies[0].title}"
    return sentence + "."
