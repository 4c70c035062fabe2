"""`python -m bench` (`make bench`): run every benchmark module in turn; each prints its table and writes bench/results/."""

from __future__ import annotations

import importlib

BENCHMARKS = (
    "bench.trainer",
    "bench.diagnose",
    "bench.service",
    "bench.sweeps",
    "bench.search",
    "bench.asha",
    "bench.metrics",
    "bench.metric_export",
    "bench.mlflow_side_by_side",
    "bench.models",
    "bench.stored_bytes",
    "bench.predictions",
)


def main() -> None:
    for name in BENCHMARKS:
        print(f"== {name}")
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
