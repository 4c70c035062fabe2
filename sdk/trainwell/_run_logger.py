"""`Run`: a run from your own loop, logged in the background.

`log()` only appends to a queue; a thread sends the points in batches (up to `batch_points`, or what
gathered within `flush_seconds`), each retried until the server takes it: a batch sent again after a
lost answer stores nothing twice (the service takes a re-sent point as itself). A batch the server
refuses (a 4xx other than 408/429) is an error raised by the next `log()` or by `finish()`.
"""

from __future__ import annotations

import contextlib
import math
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

from trainwell._exceptions import APIConnectionError, APIStatusError, TrainwellError
from trainwell.job import Job

# How long a batch is retried (connection errors, 408, 429, 5xx) before the run gives up on the server.
SEND_PATIENCE_SECONDS = 300.0
MAX_BACKOFF_SECONDS = 10.0

Sender = Callable[[list[dict[str, Any]]], object]


def json_number(value: float) -> float | str:
    """A value as JSON can carry it: NaN and ±Inf (information: the run diverged) as the strings the service
    reads as those numbers, since JSON has no such literals (and httpx refuses to write Python's)."""
    number = float(value)
    if math.isfinite(number):
        return number
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


class Run:
    """A running external run. Use it as a context manager: leaving the block finishes the run (also when
    the block raised, so the diagnosis reads what was logged) and the run's diagnosis follows on the server."""

    def __init__(
        self,
        job: Job,
        *,
        send: Sender,
        finish: Callable[[], Job],
        batch_points: int = 1000,
        flush_seconds: float = 1.0,
    ) -> None:
        self.job = job
        self._send, self._finish = send, finish
        self._batch_points, self._flush_seconds = batch_points, flush_seconds
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._error: TrainwellError | None = None
        self._step = 0
        self._epoch = 0
        self._finished = False
        self._thread = threading.Thread(target=self._sender, name=f"trainwell-run-{job.id[:8]}", daemon=True)
        self._thread.start()

    @property
    def id(self) -> str:
        return self.job.id

    def log(
        self,
        metrics: Mapping[str, float] | None = None,
        *,
        epoch: int | None = None,
        step: int | None = None,
        fold: int = 0,
        **named: float,
    ) -> None:
        """Log metric values (shared names such as train_loss, or `custom/…` through `metrics`) at this step.

        `step` defaults to one more than the last one logged; `epoch` to the last one given."""
        self._raise_if_failed()
        if self._finished:
            raise TrainwellError(f"run {self.id} is finished: it takes no more points")
        if step is None:
            step = self._step
        if epoch is not None:
            self._epoch = epoch
        self._step = step + 1
        for name, value in {**(metrics or {}), **named}.items():
            point = {"name": name, "step": step, "epoch": self._epoch, "fold": fold, "value": json_number(value)}
            self._queue.put(point)

    def flush(self) -> None:
        """Wait until every point logged so far is stored (or its batch refused: then raise)."""
        self._queue.join()
        self._raise_if_failed()

    def finish(self) -> Job:
        """Send what is left, end the run, and return it as a Job (its diagnosis follows on the server)."""
        if not self._finished:
            self._finished = True
            self._queue.put(None)
            self._thread.join()
            self._raise_if_failed()
            self.job = self._finish()
        return self.job

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.finish()
            return
        with contextlib.suppress(TrainwellError):  # the block's own exception is the one to see
            self.finish()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _sender(self) -> None:
        done = False
        while not done:
            batch: list[dict[str, Any]] = []
            deadline = time.monotonic() + self._flush_seconds
            while len(batch) < self._batch_points:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()) if batch else None)
                except queue.Empty:
                    break
                if item is None:
                    self._queue.task_done()
                    done = True
                    break
                batch.append(item)
            if batch and self._error is None:
                self._send_with_retries(batch)
            for _ in batch:
                self._queue.task_done()

    def _send_with_retries(self, batch: list[dict[str, Any]]) -> None:
        give_up = time.monotonic() + SEND_PATIENCE_SECONDS
        delay = 0.5
        while True:
            try:
                self._send(batch)
                return
            except APIStatusError as error:
                if not (error.status_code in {408, 429} or error.status_code >= 500) or time.monotonic() > give_up:
                    self._error = error
                    return
            except APIConnectionError as error:
                if time.monotonic() > give_up:
                    self._error = error
                    return
            except Exception as error:  # the thread must not die: flush() and finish() wait on it
                self._error = TrainwellError(f"sending run {self.id}'s points failed: {error!r}")
                return
            time.sleep(delay * (0.75 + random.random() / 4))
            delay = min(MAX_BACKOFF_SECONDS, delay * 2)
