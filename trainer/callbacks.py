"""What the fit loop reports, and how: the callback hooks (minGPT-style) and the result records.

The loop never writes to a database or a queue; a worker subclasses `Callbacks` to do that.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor

from trainwell.spec import Task

FitStatus = Literal["completed", "stopped", "diverged"]


@dataclass
class EpochRecord:
    fold: int  # 0-based
    epoch: int  # 1-based
    step: int  # optimizer steps done so far in this fold
    metrics: dict[str, float]  # epoch metrics keyed by MetricName values; all finite
    step_metrics: list[tuple[int, dict[str, float]]] = field(default_factory=list)  # (step, step_* metrics)

    def as_dict(self) -> dict[str, Any]:
        """Plain lists and dicts, as a checkpoint stores them (torch.load(weights_only=True) reads them back)."""
        return {
            "fold": self.fold,
            "epoch": self.epoch,
            "step": self.step,
            "metrics": dict(self.metrics),
            "step_metrics": [[step, dict(metrics)] for step, metrics in self.step_metrics],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpochRecord:
        steps = [(int(step), dict(metrics)) for step, metrics in data["step_metrics"]]
        return cls(data["fold"], data["epoch"], data["step"], dict(data["metrics"]), steps)


class Callbacks:
    """No-op hooks; subclass and override what you need."""

    def on_fit_start(self, *, folds: int, epochs: int) -> None:
        """Called once, before the first epoch (also when resuming)."""

    def on_fit_resume(self, records: list[EpochRecord]) -> None:
        """Called once after `on_fit_start` when the fit resumes from a checkpoint, with every epoch the
        run reported before it, oldest first. The checkpoint carries them because a report may not have
        reached its destination (a database down when the last run died): re-send what it may lack."""

    def on_epoch_end(self, record: EpochRecord) -> None:
        """Called after each epoch with finite metrics; a diverged epoch is never reported."""

    def should_stop(self) -> bool:
        """Polled after every optimizer step; True makes `fit` return with status "stopped" at once.

        Keep it cheap (throttle any I/O yourself): it runs once per step.
        """
        return False

    def stop_early(self) -> dict[str, Any] | None:
        """Asked after each epoch is reported (`on_epoch_end`): a reason (JSON-able) ends the run there as
        finished — status "completed", the best weights restored as early stopping does, no later fold
        trained — and the summary keeps it as `stopped_early`. A sweep's scheduler that judges its trials at
        rungs (ASHA) answers here."""
        return None


@dataclass
class FoldResult:
    best_epoch: int  # epoch of the lowest validation loss (0 when no epoch finished)
    epochs_run: int
    early_stopped: bool
    best_metrics: dict[str, float]  # the epoch record at best_epoch: what the restored weights score
    final_metrics: dict[str, float]  # the last epoch's record
    stopped_early: dict[str, Any] | None = None  # why the callbacks ended it (Callbacks.stop_early)

    def as_dict(self) -> dict[str, Any]:
        kept = {"stopped_early": self.stopped_early} if self.stopped_early is not None else {}
        return {
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "early_stopped": self.early_stopped,
            "best_metrics": dict(self.best_metrics),
            "final_metrics": dict(self.final_metrics),
            **kept,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FoldResult:
        return cls(**data)


@dataclass
class FitResult:
    status: FitStatus
    folds: list[FoldResult]
    task: Task
    message: str = ""
    fold_count: int = 1  # folds the job has (k for k-fold), even when it stopped early
    # Weights the run ended with (the best ones when early stopping restored them), on the training device;
    # for k-fold, the last fold's.
    state_dict: dict[str, Tensor] | None = field(default=None, repr=False)
    # Where it trained: "cpu", or "cuda:0 (NVIDIA H100 80GB HBM3)" — `device: auto` leaves the user asking.
    device: str = "cpu"
    # torch's intra-op threads while it trained: the job's CPU share (the worker sets it, TRAINWELL_TORCH_THREADS)
    cpu_threads: int = 1

    def summary(self) -> dict[str, Any]:
        """JSON-able summary for the job row.

        Always: the fit's status, task, message, device and CPU threads. Holdout: fold 0's best epoch, best and final
        metrics. K-fold: best_metrics and final_metrics are the means over folds (with *_std beside
        them), best_epoch the rounded mean of the folds' best epochs, epochs_run the total over folds,
        and `folds` lists each fold.
        """
        summary: dict[str, Any] = {
            "status": self.status,
            "task": self.task,
            "message": self.message,
            "device": self.device,
            "cpu_threads": self.cpu_threads,
        }
        if not self.folds:
            return {**summary, "best_epoch": None, "epochs_run": 0, "best_metrics": {}, "final_metrics": {}}
        if self.fold_count == 1:
            return {**summary, **self.folds[0].as_dict()}
        summary["best_epoch"] = round(statistics.fmean(f.best_epoch for f in self.folds))
        summary["epochs_run"] = sum(f.epochs_run for f in self.folds)
        for kind in ("best_metrics", "final_metrics"):
            mean, std = _mean_and_std([getattr(f, kind) for f in self.folds])
            summary[kind], summary[f"{kind}_std"] = mean, std
        summary["folds"] = [f.as_dict() for f in self.folds]
        return summary


def _mean_and_std(records: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    names = set.intersection(*(set(r) for r in records))
    mean = {n: statistics.fmean(r[n] for r in records) for n in sorted(names)}
    std = {n: statistics.pstdev(r[n] for r in records) for n in sorted(names)}
    return mean, std
