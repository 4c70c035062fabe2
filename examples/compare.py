"""Reproduce the classic training experiments through the SDK and print one comparison table.

    python examples/compare.py                      # every experiment
    python examples/compare.py optimizers batch     # some of them
    python examples/compare.py --epochs 5           # quicker, shorter runs

Needs a running service (`make run`); the URL and key come from TRAINWELL_URL / TRAINWELL_API_KEY or
the embedded key file, as for `trainwell.Client()`. All jobs are submitted first, then awaited, so the
workers train them back to back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

import trainwell

HERE = Path(__file__).resolve().parent
# experiment → (what it shows, the spec files it compares)
EXPERIMENTS: dict[str, tuple[str, list[str]]] = {
    "optimizers": (
        "SGD vs SGD+momentum vs Adam, same data and budget",
        ["digits-sgd", "digits-momentum", "digits-adam"],
    ),
    "batch": ("small vs large batch at the same learning rate and epochs", ["digits-batch-16", "digits-batch-512"]),
    "loss": ("cross-entropy vs MSE on softmax outputs", ["digits-adam", "digits-mse"]),
    "batchnorm": ("BatchNorm off/on in an 8-layer sigmoid network", ["deep-sigmoid", "deep-sigmoid-batchnorm"]),
    "overfitting": (
        "150 training rows: no remedy vs early stopping vs gaussian-noise augmentation",
        ["overfit", "overfit-early-stopping", "overfit-noise"],
    ),
}


def load_spec(name: str, epochs: int | None) -> trainwell.JobSpec:
    spec = trainwell.JobSpec.model_validate(trainwell.load_spec_file(HERE / f"{name}.yaml"))
    return spec.model_copy(update={"epochs": epochs}) if epochs else spec


def metric(job: trainwell.Job, kind: str, name: str) -> str:
    value = (job.summary or {}).get(kind, {}).get(name)
    return f"{value:.4f}" if isinstance(value, int | float) else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="*", help=f"some of: {', '.join(EXPERIMENTS)} (default: all)")
    parser.add_argument("--epochs", type=int, help="override every spec's epochs (quick runs)")
    args = parser.parse_args()
    unknown = sorted(set(args.experiments) - set(EXPERIMENTS))
    if unknown:
        parser.error(f"unknown experiment {', '.join(unknown)}; choose from {', '.join(EXPERIMENTS)}")
    chosen = args.experiments or list(EXPERIMENTS)

    console = Console()
    with trainwell.Client() as client:
        # submit everything first; a spec shared by two experiments is trained once
        names = list(dict.fromkeys(n for e in chosen for n in EXPERIMENTS[e][1]))
        submitted = {name: client.jobs.create(load_spec(name, args.epochs)) for name in names}
        console.print(f"submitted {len(submitted)} jobs; waiting for them to finish …")
        finished = {name: job.wait(progress=True) for name, job in submitted.items()}

    table = Table(title="trainwell: classic experiments")
    for column in ("experiment", "run", "status", "epochs run", "best epoch"):
        table.add_column(column)
    for column in ("final train loss", "best val loss", "final val loss", "best val acc", "test acc"):
        table.add_column(column, justify="right")
    for experiment in chosen:
        description, runs = EXPERIMENTS[experiment]
        for i, name in enumerate(runs):
            job = finished[name]
            summary = job.summary or {}
            table.add_row(
                f"[bold]{experiment}[/]\n{description}" if i == 0 else "",
                name,
                job.status.value,
                str(summary.get("epochs_run", "–")),
                str(summary.get("best_epoch", "–")),
                metric(job, "final_metrics", "train_loss"),
                metric(job, "best_metrics", "val_loss"),
                metric(job, "final_metrics", "val_loss"),
                metric(job, "best_metrics", "val_accuracy"),
                metric(job, "best_metrics", "test_accuracy"),
                end_section=i == len(runs) - 1,
            )
    console.print(table)


if __name__ == "__main__":
    main()
