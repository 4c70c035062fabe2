"""The live progress bar of `wait()`: epoch k/N (and fold f/F), the latest train/val loss, on stderr.

It polls GET /v1/jobs/{id}; once the API serves /v1/jobs/{id}/events (SSE), `wait()` should listen instead.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from trainwell.job import Job, JobMetrics


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


# what the bar shows besides the epoch; absent names (regression has no accuracy) are skipped
PROGRESS_METRICS = ("train_loss", "val_loss", "val_accuracy")


class WaitProgress:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._seen: tuple[int, int] | None = None
        self._bar: Any = None
        self._task: Any = None
        self._losses = ""

    def __enter__(self) -> Self:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[position]}"),
                TextColumn("{task.fields[losses]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def needs_metrics(self, job: Job) -> bool:
        """True when the job reached an epoch the bar has not shown the losses of."""
        position = (job.progress.fold, job.progress.epoch)
        return self.enabled and job.progress.epoch > 0 and position != self._seen

    def update(self, job: Job, metrics: JobMetrics | None) -> None:
        if self._bar is None:
            return
        progress = job.progress
        total = progress.epochs * progress.folds
        done = total if job.status.is_final else progress.fold * progress.epochs + progress.epoch
        position = f"epoch {progress.epoch}/{progress.epochs}"
        if progress.folds > 1:
            position = f"fold {progress.fold + 1}/{progress.folds} {position}"
        if metrics is not None:
            self._seen = (progress.fold, progress.epoch)
            latest = [(name, metrics.get(name, progress.fold)) for name in PROGRESS_METRICS]
            self._losses = "  ".join(f"{n} {s.last:.4g}" for n, s in latest if s is not None and s.last is not None)
        description = f"{escape(job.name or job.id)} [bold]{job.status.value}[/]"
        fields = {"position": position, "losses": self._losses}
        if self._task is None:
            self._task = self._bar.add_task(description, total=total, completed=done, **fields)
        else:
            self._bar.update(self._task, description=description, total=total, completed=done, **fields)
