"""The live progress bar of `wait()`: epoch k/N (and fold f/F), the latest train/val loss, on stderr.

`wait()` feeds it the events of GET /v1/jobs/{id}/events (`update_event`), or, when the stream is not
available, jobs and metrics it polls (`update`). After the job it prints the diagnosis verdict, if any.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from trainwell.diagnosis import Diagnosis
from trainwell.events import EpochEvent, JobEvent, StatusEvent
from trainwell.job import Job, JobMetrics, JobStatus, Progress


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


# what the bar shows besides the epoch; absent names (regression has no accuracy) are skipped
PROGRESS_METRICS = ("train_loss", "val_loss", "val_accuracy")


class LiveBar:
    """One rich progress bar on stderr, drawn only when `enabled`: a spinner, the description, the bar, the
    `columns` (templates over the task's fields) and the time elapsed. `show` draws the task."""

    columns: tuple[str, ...] = ()

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None
        self._console: Any = None

    def __enter__(self) -> Self:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._console = Console(stderr=True)
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                *(TextColumn(column) for column in self.columns),
                TimeElapsedColumn(),
                console=self._console,
            )
            self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def show(self, description: str, *, total: int, completed: int, **fields: str) -> None:
        if self._task is None:
            self._task = self._bar.add_task(description, total=total, completed=completed, **fields)
        else:
            self._bar.update(self._task, description=description, total=total, completed=completed, **fields)


class WaitProgress(LiveBar):
    columns = ("{task.fields[position]}", "{task.fields[losses]}")

    def __init__(self, *, enabled: bool) -> None:
        super().__init__(enabled=enabled)
        self._seen: tuple[int, int] | None = None
        self._losses = ""
        self._name = ""
        self._status: JobStatus | None = None
        self._progress: Progress | None = None

    def needs_metrics(self, job: Job) -> bool:
        """True when the job reached an epoch the bar has not shown the losses of."""
        position = (job.progress.fold, job.progress.epoch)
        return self.enabled and job.progress.epoch > 0 and position != self._seen

    def update(self, job: Job, metrics: JobMetrics | None) -> None:
        """From a polled job and, when `needs_metrics` said so, its latest metrics."""
        if self._bar is None:
            return
        self._name = job.name or job.id
        if metrics is not None:
            self._seen = (job.progress.fold, job.progress.epoch)
            latest = [(name, metrics.get(name, job.progress.fold)) for name in PROGRESS_METRICS]
            self._losses = "  ".join(f"{n} {s.last:.4g}" for n, s in latest if s is not None and s.last is not None)
        self._status, self._progress = job.status, job.progress
        self._draw()

    def update_event(self, job: Job, event: JobEvent) -> None:
        """From an event of the job's stream (`job` gives the name and the starting point)."""
        if self._bar is None:
            return
        self._name = job.name or job.id
        if self._status is None or self._progress is None:
            self._status, self._progress = job.status, job.progress
        if isinstance(event, StatusEvent):
            self._status, self._progress = event.status, event.progress
        elif isinstance(event, EpochEvent):
            self._progress = self._progress.model_copy(update={"fold": event.fold, "epoch": event.epoch})
            values = [(name, event.metrics.get(name)) for name in PROGRESS_METRICS]
            self._losses = "  ".join(f"{n} {v:.4g}" for n, v in values if v is not None)
        else:
            return
        self._draw()

    def verdict(self, diagnosis: Diagnosis) -> None:
        """Print the verdict and summary line under the bar."""
        if self._console is None or diagnosis.verdict is None:
            return
        if self._bar is not None:
            self._bar.stop()  # the line goes under the finished bar
        line = f"[bold]verdict: {diagnosis.verdict.value}[/]"
        if diagnosis.confidence is not None:
            line += f" ({diagnosis.confidence.level.value} confidence)"
        if diagnosis.summary:
            line += f" — {escape(diagnosis.summary)}"
        self._console.print(line, soft_wrap=True)

    def _draw(self) -> None:
        status, progress = self._status, self._progress
        if status is None or progress is None:
            return
        total = progress.epochs * progress.folds
        done = total if status.is_final else progress.fold * progress.epochs + progress.epoch
        position = f"epoch {progress.epoch}/{progress.epochs}"
        if progress.folds > 1:
            position = f"fold {progress.fold + 1}/{progress.folds} {position}"
        description = f"{escape(self._name)} [bold]{status.value}[/]"
        self.show(description, total=total, completed=done, position=position, losses=self._losses)
