"""The loss landscape of a finished job as the API serves it and the SDK reads it.

Two views of the training loss around the weights a job ended with: the line from the initial to
the final weights, and a grid around the final weights along two filter-normalized random directions
(Li et al., "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018). No torch here; the
trainer computes it (trainer/diagnose/landscape.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class LandscapeStatus(StrEnum):
    queued = "queued"
    running = "running"
    ready = "ready"
    failed = "failed"


class LossLine(BaseModel):
    """The loss along θ(α) = (1−α)·θ_initial + α·θ_final; α = 0 and α = 1 are points of the line."""

    alphas: list[float] = Field(description="the interpolation coefficients α, ascending, from −0.25 to 1.25")
    train_loss: list[float | None] = Field(description="training loss at each α; null where it was not finite")
    val_loss: list[float | None] = Field(description="validation loss at each α; null where it was not finite")


class LossSurface(BaseModel):
    """The training loss at θ_final + x·d1 + y·d2, with d1, d2 filter-normalized random directions."""

    xs: list[float] = Field(description="steps along direction 1, ascending; 0 is one of them")
    ys: list[float] = Field(description="steps along direction 2, ascending; 0 is one of them")
    train_loss: list[list[float | None]] = Field(
        description="training loss indexed [iy][ix]; null where it was not finite; the centre is the final loss"
    )


class Landscape(BaseModel):
    job_id: str
    status: LandscapeStatus
    line: LossLine | None = Field(None, description="the loss from the initial to the final weights, once ready")
    surface: LossSurface | None = Field(None, description="the loss around the final weights, once ready")
    rows: int = Field(0, description="training rows the losses were computed on (a fixed seeded subset of large data)")
    fold: int = Field(0, description="the fold whose weights and split were used")
    seconds: float = Field(0.0, description="time spent computing the losses")
    error: str | None = Field(None, description="why the computation failed, when it did")
    plot_url: str | None = Field(None, description="a PNG contour plot of the landscape, once ready")
    requested_at: datetime | None = None
    finished_at: datetime | None = None
