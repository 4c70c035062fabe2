"""The live progress bar of `sweeps.wait(progress=True)`: trials ended of all, and where the rest are, on stderr."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from trainwell._progress import escape
from trainwell.sweep import Sweep, SweepCounts


def trials_ended(counts: SweepCounts) -> int:
    """A trial has ended once it succeeded, failed or was cancelled."""
    return counts.succeeded + counts.failed + counts.cancelled


class SweepProgress:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Self:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} trials"),
                TextColumn("{task.fields[counts]}"),
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

    def update(self, sweep: Sweep) -> None:
        if self._bar is None:
            return
        counts = sweep.counts
        ended = trials_ended(counts)
        shown = {"waiting": counts.waiting, "queued": counts.queued, "running": counts.running}
        shown |= {"failed": counts.failed, "cancelled": counts.cancelled}
        fields = {"counts": "  ".join(f"{name} {n}" for name, n in shown.items() if n)}
        description = f"{escape(sweep.name or sweep.id)} [bold]{sweep.status.value}[/]"
        if self._task is None:
            self._task = self._bar.add_task(description, total=sweep.trials, completed=ended, **fields)
        else:
            self._bar.update(self._task, description=description, total=sweep.trials, completed=ended, **fields)
