"""`job.plot()`: losses and the score per epoch, best epoch marked (needs the extra `trainwell[plot]`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from trainwell.job import Job, JobMetrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SPLITS = (("train", "-"), ("val", "--"), ("test", ":"))
# the score panel shows the first of these the job recorded: accuracy (classification), R², MAE (regression)
SCORES = ("accuracy", "r2", "mae")
PLOT_METRICS = tuple(f"{split}_{kind}" for kind in ("loss", *SCORES) for split, _ in SPLITS)


def plot_job(
    job: Job,
    metrics: JobMetrics,
    *,
    fold: int = 0,
    path: str | os.PathLike[str] | None = None,
    verdict: str | None = None,
) -> Figure:
    """Draw train/val/test loss and score of `fold`; save a PNG when `path` is given. Uses Agg, never a GUI."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError("plot() needs matplotlib: pip install 'trainwell[plot]'") from None

    figure = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(figure)  # Agg renders off-screen: works on servers, in CI and in notebooks
    loss_axes, score_axes = figure.subplots(1, 2)
    score = next((kind for kind in SCORES if metrics.get(f"train_{kind}", fold) is not None), SCORES[0])
    for axes, kind in ((loss_axes, "loss"), (score_axes, score)):
        for split, style in SPLITS:
            series = metrics.get(f"{split}_{kind}", fold)
            if series is not None and series.points:
                axes.plot(
                    series.epochs, series.values, style, marker="o" if len(series.points) == 1 else None, label=split
                )
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.set_ylabel(kind)
        axes.grid(alpha=0.3)
    best_epoch = (job.summary or {}).get("best_epoch")
    if isinstance(best_epoch, int):
        for axes in (loss_axes, score_axes):
            axes.axvline(best_epoch, color="grey", linewidth=1, linestyle="-.", label=f"best epoch {best_epoch}")
    for axes in (loss_axes, score_axes):
        if axes.has_data():
            axes.legend()
    title = f"{job.name or job.id} — {job.status.value}"
    if verdict:
        title += f" — verdict: {verdict}"
    figure.suptitle(title)
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
