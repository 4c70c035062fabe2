"""The live progress bar of `sweeps.wait(progress=True)`: trials ended of all, and where the rest are, on stderr."""

from __future__ import annotations

from trainwell._progress import LiveBar, escape
from trainwell.sweep import Sweep, SweepCounts


def trials_ended(counts: SweepCounts) -> int:
    """A trial has ended once it succeeded, failed or was cancelled."""
    return counts.succeeded + counts.failed + counts.cancelled


class SweepProgress(LiveBar):
    columns = ("{task.completed}/{task.total} trials", "{task.fields[counts]}")

    def update(self, sweep: Sweep) -> None:
        if self._bar is None:
            return
        counts = sweep.counts
        shown = {"waiting": counts.waiting, "queued": counts.queued, "running": counts.running}
        shown |= {"failed": counts.failed, "cancelled": counts.cancelled}
        description = f"{escape(sweep.name or sweep.id)} [bold]{sweep.status.value}[/]"
        counted = "  ".join(f"{name} {n}" for name, n in shown.items() if n)
        self.show(description, total=sweep.trials, completed=trials_ended(counts), counts=counted)
