"""The diagnosis against its speed targets (BENCHMARKS.md), measured in one run on this machine.

Rules: the whole rule engine, the loss decomposition and the verdict with its confidence on a job with 10,005 metric rows (23 epoch metrics × 435
epochs, and 5 folds × 23 metrics × 87 epochs), median of repeated runs; target ≤ 50 ms.
Curvature: the digits MLP 64-128-128-10 trained 30 epochs with `fit`, then the Hessian analysis at its
final weights with the job's budget; target ≤ max(25% of that job's training time, 3 s).
Torch runs on THREADS intra-op threads, like bench/trainer.py.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from trainer import fit
from trainer.diagnose.curvature import CurvatureBudget
from trainer.diagnose.facts import facts_of, load_fold
from trainer.diagnose.history import History, JobRecord
from trainer.diagnose.noise import decompose
from trainer.diagnose.rules import run_rules
from trainer.diagnose.verdict import decide
from trainer.diagnose.weights import job_curvature
from trainwell.metrics import STEP_METRICS, MetricName
from trainwell.spec import JobSpec

RESULTS = Path(__file__).parent / "results" / "diagnose.json"
THREADS = 1
RULE_TARGET_MS = 50.0
RULE_REPEATS = 30
# every epoch metric of the shared list (23): a job's rows are (fold, epoch, name, value)
METRICS = [name.value for name in MetricName if name not in STEP_METRICS]
CURVATURE_SPEC = {
    "dataset": {"name": "digits"},
    "model": {"hidden": [128, 128], "activation": "relu"},
    "optimizer": {"name": "adam", "lr": 0.001},
    "batch_size": 64,
    "epochs": 30,
    "device": "cpu",
}


def synthetic_history(folds: int, epochs: int) -> History:
    """A plausible run: losses decaying with noise, instruments drifting; len(METRICS) × folds × epochs rows."""
    history: History = {}
    for fold in range(folds):
        curves: dict[str, list[float]] = {}
        for i, name in enumerate(METRICS):
            curves[name] = [
                0.05 + 0.6 * math.exp(-epoch / 40) + 0.01 * math.sin(epoch * (i + 1) + fold) for epoch in range(epochs)
            ]
        history[fold] = curves
    return history


def time_rules(spec: JobSpec, history: History) -> dict[str, Any]:
    dataset, data = load_fold(spec, None)
    facts = facts_of(spec, dataset, data)
    timings = []
    for _ in range(RULE_REPEATS):
        started = time.perf_counter()
        job = JobRecord(spec, facts, history)
        verdict = decide(run_rules(job), decompose(job)).verdict
        timings.append((time.perf_counter() - started) * 1000)
    rows = sum(len(values) for fold in history.values() for values in fold.values())
    return {
        "rows": rows,
        "median_ms": round(statistics.median(timings), 2),
        "max_ms": round(max(timings), 2),
        "verdict": verdict,
    }


def time_curvature() -> dict[str, Any]:
    spec = JobSpec.model_validate(CURVATURE_SPEC)
    started = time.perf_counter()
    result = fit(spec)
    train_seconds = time.perf_counter() - started
    dataset, data = load_fold(spec, None)
    facts = facts_of(spec, dataset, data)
    budget = CurvatureBudget.for_job(train_seconds)
    assert result.state_dict is not None
    started = time.perf_counter()
    curvature = job_curvature(spec, result.state_dict, dataset, data, loss_scale=facts.trivial_loss, budget=budget)
    seconds = time.perf_counter() - started
    return {
        "train_seconds": round(train_seconds, 3),
        "curvature_seconds": round(seconds, 3),
        "budget_seconds": round(budget.seconds, 3),
        "ratio_to_training": round(seconds / train_seconds, 3),
        "within_target": seconds <= budget.seconds,
        "hvp_count": curvature.hvp_count,
        "critical_point": curvature.critical_point,
        "lambda_max": curvature.lambda_max,
        "lambda_min": curvature.lambda_min,
        "gradient_norm": curvature.gradient_norm,
        "skipped_reason": curvature.skipped_reason,
    }


def main() -> dict[str, Any]:
    torch.set_num_threads(THREADS)
    spec = JobSpec.model_validate({"dataset": {"name": "digits"}, "epochs": 435})
    results: dict[str, Any] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rules_holdout": time_rules(spec, synthetic_history(1, 435)),
        "rules_5_folds": time_rules(spec, synthetic_history(5, 87)),
        "rule_target_ms": RULE_TARGET_MS,
        "curvature": time_curvature(),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    for key in ("rules_holdout", "rules_5_folds"):
        row = results[key]
        print(
            f"{key:<14} {row['rows']} rows: median {row['median_ms']:.2f} ms, max {row['max_ms']:.2f} ms (target ≤ {RULE_TARGET_MS:g} ms)"
        )
    c = results["curvature"]
    print(
        f"curvature      digits MLP 64-128-128-10, 30 epochs: training {c['train_seconds']:.2f} s, curvature "
        f"{c['curvature_seconds']:.2f} s = {c['ratio_to_training']:.2f}× training ({c['hvp_count']} HVPs, "
        f"{c['critical_point']}); budget max(25%, 3 s) = {c['budget_seconds']:.2f} s"
    )
    print(f"wrote {RESULTS}")
    return results


if __name__ == "__main__":
    main()
