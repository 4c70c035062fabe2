"""`sweeps.plot()`: each cell's mean curve over its seeds with a ±std band (needs the extra `trainwell[plot]`)."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainwell._sweep_table import cell_label
from trainwell.job import MetricSeries
from trainwell.sweep import Sweep

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class MeanCurve:
    """Per epoch: the mean over the trials that reached it, the sample std (NaN below two) and the count."""

    epochs: list[int]
    means: list[float]
    stds: list[float]
    counts: list[int]


def mean_curve(series: Sequence[MetricSeries]) -> MeanCurve:
    """Average trials epoch by epoch; a trial that stopped early only counts for the epochs it ran, and a
    per-step series counts with its epoch's last value."""
    by_epoch: dict[int, list[float]] = {}
    for one in series:
        last = {point.epoch: point.value for point in one.points}  # later points of an epoch overwrite
        for epoch, value in last.items():
            by_epoch.setdefault(epoch, []).append(value)
    epochs = sorted(by_epoch)
    values = [by_epoch[epoch] for epoch in epochs]
    return MeanCurve(
        epochs=epochs,
        means=[statistics.fmean(v) for v in values],
        stds=[statistics.stdev(v) if len(v) > 1 else math.nan for v in values],
        counts=[len(v) for v in values],
    )


def plot_sweep(
    sweep: Sweep,
    curves: Mapping[int, Sequence[MetricSeries]],
    *,
    metric: str,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """One line per cell of `curves` (cell index → its succeeded trials' series of `metric`), a ±std band
    where two or more trials reached the epoch; a PNG at `path` if given. Uses Agg, never a GUI."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError("plot() needs matplotlib: pip install 'trainwell[plot]'") from None

    figure = Figure(figsize=(8, 4.8), layout="constrained")
    FigureCanvasAgg(figure)  # Agg renders off-screen: works on servers, in CI and in notebooks
    axes = figure.subplots()
    for row in sweep.table:
        series = [one for one in curves.get(row.cell, []) if one.points]
        if not series:
            continue
        curve = mean_curve(series)
        (line,) = axes.plot(
            curve.epochs,
            curve.means,
            marker="o" if len(curve.epochs) == 1 else None,
            label=f"cell {row.cell}: {cell_label(row.values)} (n={len(series)})",
        )
        lower = [mean - std for mean, std in zip(curve.means, curve.stds, strict=True)]
        upper = [mean + std for mean, std in zip(curve.means, curve.stds, strict=True)]
        if any(not math.isnan(std) for std in curve.stds):
            axes.fill_between(curve.epochs, lower, upper, color=line.get_color(), alpha=0.2, linewidth=0)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric)
    axes.grid(alpha=0.3)
    if axes.has_data():
        axes.legend()
    figure.suptitle(f"{sweep.name or sweep.id}: {metric}, mean ± std over seeds")
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
