"""The loss landscape as a PNG: the loss along the initial→final line, and a contour plot around the final weights.

Drawn on a `matplotlib.figure.Figure` with the Agg canvas, never through pyplot: pyplot keeps global
state (the current figure) that is not safe to share between threads, and needs no display here.
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from trainwell.landscape import Landscape, LossLine, LossSurface

FIGSIZE = (11.0, 4.5)  # inches
DPI = 100
LEVELS = 20
# Above this ratio of the largest to the smallest loss, evenly spaced levels would put nearly every
# contour in the walls far from the minimum and leave the basin one flat colour; log-spaced ones do not.
WIDE_RANGE = 20.0


def render_landscape_png(landscape: Landscape, title: str | None = None) -> bytes:
    """The PNG of a computed landscape (FIGSIZE × DPI pixels); missing (non-finite) losses are left blank."""
    if landscape.line is None or landscape.surface is None:
        raise ValueError(f"the landscape of job {landscape.job_id} is {landscape.status.value}: nothing to plot yet")
    figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    line_axes, surface_axes = figure.subplots(1, 2, width_ratios=(1, 1.15))
    _draw_line(line_axes, landscape.line)
    _draw_surface(figure, surface_axes, landscape.surface)
    figure.suptitle(
        title or f"loss landscape of job {landscape.job_id} (fold {landscape.fold}, {landscape.rows} training rows)"
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _draw_line(axes: Axes, line: LossLine) -> None:
    for name, losses, style in (("train", line.train_loss, "-"), ("val", line.val_loss, "--")):
        axes.plot(line.alphas, _masked(losses), style, marker=".", label=name)
    for alpha, label in ((0.0, "initial"), (1.0, "final")):
        axes.axvline(alpha, color="grey", linewidth=1, linestyle=":")
        axes.annotate(
            label, (alpha, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12), textcoords="offset points"
        )
    finite = _finite(line.train_loss + line.val_loss)
    if finite.size and _wide(finite):
        axes.set_yscale("log")
    axes.set_xlabel("α   (θ = (1−α)·θ_initial + α·θ_final)")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    if axes.has_data():
        axes.legend(loc="center left")


def _draw_surface(figure: Figure, axes: Axes, surface: LossSurface) -> None:
    losses = _masked([value for row in surface.train_loss for value in row]).reshape(len(surface.ys), len(surface.xs))
    finite = _finite([value for row in surface.train_loss for value in row])
    axes.set_xlabel("direction 1 (filter-normalized)")
    axes.set_ylabel("direction 2")
    if finite.size == 0:
        axes.text(0.5, 0.5, "no finite training loss on the grid", ha="center", va="center", transform=axes.transAxes)
        return
    low, high = float(finite.min()), float(finite.max())
    norm: LogNorm | None = None
    if high <= low:  # a flat surface: one band, no contour lines
        levels = np.array([low - 0.5, low + 0.5])
    elif _wide(finite):
        levels, norm = np.geomspace(low, high, LEVELS), LogNorm(low, high)
    else:
        levels = np.linspace(low, high, LEVELS)
    filled = axes.contourf(surface.xs, surface.ys, losses, levels=levels, norm=norm, cmap="viridis")
    if high > low:
        axes.contour(surface.xs, surface.ys, losses, levels=levels, colors="white", linewidths=0.5, alpha=0.6)
    axes.plot([0.0], [0.0], marker="*", markersize=14, color="red", markeredgecolor="white", label="final weights")
    axes.set_aspect("equal")
    axes.legend(loc="upper right")
    colorbar = figure.colorbar(filled, ax=axes, label="training loss", format="%.3g")
    if norm is not None:  # label every few levels: a log norm's own ticks fall between the levels, unlabelled
        colorbar.set_ticks(levels[::3].tolist())


def _masked(values: list[float | None]) -> np.ma.MaskedArray:
    return np.ma.masked_invalid(np.array([math.nan if value is None else value for value in values], dtype=float))


def _finite(values: list[float | None]) -> np.ndarray:
    return np.array([value for value in values if value is not None and math.isfinite(value)], dtype=float)


def _wide(finite: np.ndarray) -> bool:
    """Whether the losses span a range that log spacing shows better (they must all be positive)."""
    low = float(finite.min())
    return low > 0 and float(finite.max()) / low > WIDE_RANGE
