"""A search sweep's sampler against its targets (BENCHMARKS.md): the ask — a study rebuilt from the stored
configurations, then one suggestion — at 200 and at 1,000 finished configurations, for the random and the
TPE sampler, over a 4-dimensional space (a log range, a linear range, a log integer range, a choice).

Targets: ≤ 50 ms at 200 finished configurations, ≤ 200 ms at 1,000. The configurations and their
objectives are synthetic (seeded): the ask's cost depends on their number, not on what trained them.
Each figure is the median of REPEATS asks, the sizes and samplers interleaved so that the machine's
noise falls on all of them alike.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from pathlib import Path
from typing import Any

from core.sweep_sampler import Configuration, ask
from trainwell.sweep import Search

RESULTS = Path(__file__).parent / "results" / "search.json"
SIZES = (200, 1000)
TARGET_MS = {200: 50.0, 1000: 200.0}
REPEATS = 5
SPACE = {
    "optimizer.lr": {"loguniform": [1e-5, 1.0]},
    "optimizer.momentum": {"uniform": [0.0, 0.99]},
    "batch_size": {"int": [16, 512], "log": True},
    "model.hidden": {"choice": [[64], [128, 128], [256, 256, 256]]},
}


def stored(count: int, seed: int) -> list[Configuration]:
    """`count` finished configurations drawn uniformly from SPACE, each with an objective."""
    rng = random.Random(seed)
    configurations = []
    for _ in range(count):
        lr = 10 ** rng.uniform(-5, 0)
        params = {
            "optimizer.lr": lr,
            "optimizer.momentum": rng.uniform(0.0, 0.99),
            "batch_size": round(2 ** rng.uniform(4, 9)),
            "model.hidden": rng.choice(SPACE["model.hidden"]["choice"]),
        }
        objective = (math.log10(lr) + 2.5) ** 2 + rng.gauss(0, 0.1)  # a bowl around lr 3e-3
        configurations.append(Configuration(params=params, finished=True, objective=objective))
    return configurations


def main() -> dict[str, Any]:
    histories = {size: stored(size, seed=size) for size in SIZES}
    timings: dict[str, list[float]] = {f"{sampler}_{size}": [] for sampler in ("random", "tpe") for size in SIZES}
    for repeat in range(REPEATS):
        for size in SIZES:
            for sampler in ("random", "tpe"):
                search = Search.model_validate({"space": SPACE, "sampler": sampler, "trials": size + 1, "seed": repeat})
                started = time.perf_counter()
                ask(search, histories[size])
                timings[f"{sampler}_{size}"].append((time.perf_counter() - started) * 1000)
    results: dict[str, Any] = {
        key: {"median_ms": round(statistics.median(values), 1), "max_ms": round(max(values), 1)}
        for key, values in timings.items()
    }
    results["targets_ms"] = {str(size): target for size, target in TARGET_MS.items()}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for size in SIZES:
        row = ", ".join(
            f"{sampler} {results[f'{sampler}_{size}']['median_ms']:.1f} ms" for sampler in ("random", "tpe")
        )
        print(f"ask at {size} finished configurations: {row} (median of {REPEATS}; target ≤ {TARGET_MS[size]:g} ms)")
    print(f"wrote {RESULTS}")
    return results


if __name__ == "__main__":
    main()
