"""`client.jobs`: create, retrieve, list, cancel, metrics (and their export), events, diagnosis, remedies,
landscape, wait, plot, predict.

Each operation is described once as a `Call`; `Jobs` and `AsyncJobs` only send it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from trainwell._base_client import Binary, Call, NoContent
from trainwell._download import download_model
from trainwell._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    PredictionFailedError,
    WaitTimeoutError,
)
from trainwell._handle import AsyncJobHandle, JobHandle
from trainwell._metric_export import export_format_for, metrics_frame, write_export, write_export_async
from trainwell._pagination import AsyncCursorPage, AsyncPaginator, SyncCursorPage
from trainwell._plot import PLOT_METRICS, plot_job
from trainwell._progress import PROGRESS_METRICS, WaitProgress
from trainwell._spec_file import SpecInput, spec_payload
from trainwell.dataset import Dataset
from trainwell.diagnosis import Diagnosis
from trainwell.events import DiagnosisEvent, JobEvent, StatusEvent
from trainwell.job import Job, JobMetrics, JobPage, JobStatus
from trainwell.landscape import Landscape
from trainwell.predictions import PredictionRequest, Predictions, PredictionStatus, PredictionTable

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from trainwell._client import AsyncClient, Client

JobRef = str | Job
# errors of the events stream after which wait() polls instead (an older server, a proxy that buffers)
STREAM_ERRORS = (APIConnectionError, APIStatusError)


def _path(job: JobRef, suffix: str = "") -> str:
    job_id = job.id if isinstance(job, Job) else job
    if not job_id:
        raise ValueError("job id must be a non-empty string")
    return f"/v1/jobs/{quote(job_id, safe='')}{suffix}"


def create_call(spec: SpecInput, idempotency_key: str | None) -> Call[Job]:
    return Call("POST", "/v1/jobs", Job, json=spec_payload(spec), idempotency_key=idempotency_key)


def retrieve_call(job: JobRef) -> Call[Job]:
    return Call("GET", _path(job), Job)


def cancel_call(job: JobRef) -> Call[Job]:
    return Call("POST", _path(job, "/cancel"), Job)


def delete_call(job: JobRef) -> Call[NoContent]:
    return Call("DELETE", _path(job, ""), NoContent)


def list_call(
    status: JobStatus | str | None,
    parent_id: str | None,
    sweep_id: str | None,
    limit: int | None,
    cursor: str | None,
) -> Call[JobPage]:
    params = {"status": status, "parent_id": parent_id, "sweep_id": sweep_id, "limit": limit, "cursor": cursor}
    return Call("GET", "/v1/jobs", JobPage, params={k: v for k, v in params.items() if v is not None})


def diagnosis_call(job: JobRef) -> Call[Diagnosis]:
    return Call("GET", _path(job, "/diagnosis"), Diagnosis)


def remedy_call(job: JobRef, code: str, index: int) -> Call[Job]:
    return Call("POST", _path(job, f"/remedies/{quote(code, safe='')}"), Job, params={"index": index})


def landscape_call(job: JobRef, *, compute: bool) -> Call[Landscape]:
    return Call("POST" if compute else "GET", _path(job, "/landscape"), Landscape)


def landscape_plot_call(job: JobRef) -> Call[Binary]:
    return Call("GET", _path(job, "/landscape.png"), Binary)


def predictions_call(job: JobRef, request: PredictionRequest, idempotency_key: str | None) -> Call[Predictions]:
    body = request.model_dump(exclude_none=True)
    return Call("POST", _path(job, "/predictions"), Predictions, json=body, idempotency_key=idempotency_key)


def prediction_request(rows: Sequence[Sequence[float]] | None, dataset: str | Dataset | None) -> PredictionRequest:
    return PredictionRequest(
        rows=[list(row) for row in rows] if rows is not None else None,
        dataset=dataset.id if isinstance(dataset, Dataset) else dataset,
    )


def read_predictions_call(job: JobRef, prediction_id: str, suffix: str = "") -> Call[Any]:
    path = _path(job, f"/predictions/{quote(prediction_id, safe='')}{suffix}")
    return Call("GET", path, Binary if suffix else Predictions)


def metrics_call(
    job: JobRef,
    names: Iterable[str] | None,
    fold: int | None,
    max_points: int | None,
    steps: tuple[int | None, int | None] = (None, None),
) -> Call[JobMetrics]:
    params: dict[str, Any] = {"fold": fold, "max_points": max_points, "from_step": steps[0], "to_step": steps[1]}
    if names is not None:
        params["names"] = ",".join(names)
    return Call("GET", _path(job, "/metrics"), JobMetrics, params={k: v for k, v in params.items() if v is not None})


def metrics_parquet_call(job: JobRef) -> Call[Binary]:
    return Call("GET", _path(job, "/metrics/export"), Binary, params={"format": "parquet"})


class Jobs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, spec: SpecInput, *, idempotency_key: str | None = None) -> JobHandle:
        """Submit a job: a `JobSpec`, a dict, or the path of a YAML/JSON spec file.

        The POST carries an Idempotency-Key (yours, or a fresh uuid4) that every retry repeats, so a
        retry after a lost answer returns the job the first attempt made instead of a second one.
        """
        return JobHandle.bind(self._client.request(create_call(spec, idempotency_key)), self)

    def retrieve(self, job: JobRef) -> JobHandle:
        return JobHandle.bind(self._client.request(retrieve_call(job)), self)

    def list(
        self,
        *,
        status: JobStatus | str | None = None,
        parent_id: str | None = None,
        sweep_id: str | None = None,
        limit: int | None = None,
    ) -> SyncCursorPage[JobHandle]:
        """Your jobs, newest first: all, or those of one status, the probe and remedy jobs of `parent_id`, or
        the trials of `sweep_id`. `limit` is the page size; iterating the result walks every page."""

        def fetch(cursor: str | None) -> SyncCursorPage[JobHandle]:
            page = self._client.request(list_call(status, parent_id, sweep_id, limit, cursor))
            return SyncCursorPage([JobHandle.bind(j, self) for j in page.data], page.next_cursor, fetch)

        return fetch(None)

    def cancel(self, job: JobRef) -> JobHandle:
        """Cancel a queued job (it never starts) or a running one (it stops within a step)."""
        return JobHandle.bind(self._client.request(cancel_call(job)), self)

    def delete(self, job: JobRef) -> None:
        """Delete a job with everything it stored (metric history, diagnosis, models, checkpoints, its
        probes); a queued or running one stops. A second delete raises NotFoundError."""
        self._client.request(delete_call(job))

    def metrics(
        self,
        job: JobRef,
        *,
        names: Iterable[str] | None = None,
        fold: int | None = None,
        max_points: int | None = None,
        from_step: int | None = None,
        to_step: int | None = None,
    ) -> JobMetrics:
        """Series per metric name and fold; `max_points` downsamples long series on the server, `from_step` and
        `to_step` (inclusive) zoom in."""
        return self._client.request(metrics_call(job, names, fold, max_points, (from_step, to_step)))

    def export_metrics(self, job: JobRef, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
        """Write every metric point of the job (all series, all folds) to `path` as it streams, in `format`
        (csv, ndjson or parquet; by default the one `path`'s suffix names); returns the path."""
        destination = Path(path)
        return write_export(
            self._client, _path(job, "/metrics/export"), destination, export_format_for(destination, format)
        )

    def metrics_to_pandas(self, job: JobRef) -> pd.DataFrame:
        """Every metric point of the job as a DataFrame — name, fold, epoch, step, value — read from the
        Parquet export (needs the extra `trainwell[pandas]`: pandas and pyarrow)."""
        return metrics_frame(self._client.request(metrics_parquet_call(job)).content)

    def diagnosis(self, job: JobRef) -> Diagnosis:
        """Why the job fits the way it does: verdict, findings with evidence and remedies (`status: pending`
        until the worker has computed it after the job ended)."""
        return self._client.request(diagnosis_call(job))

    def run_remedy(self, job: JobRef, code: str, *, index: int = 0) -> JobHandle:
        """Launch the job that applies remedy `index` of the diagnosis finding `code`; it is linked by parent_id."""
        return JobHandle.bind(self._client.request(remedy_call(job, code, index)), self)

    def compute_landscape(self, job: JobRef) -> Landscape:
        """Ask a worker for the finished job's error surface: the loss from the initial to the final weights,
        and a grid around the final weights (`status: queued`; one already computed comes back as it is)."""
        return self._client.request(landscape_call(job, compute=True))

    def landscape(self, job: JobRef) -> Landscape:
        """The error surface asked for with `compute_landscape`; `plot_url` names its PNG contour once ready."""
        return self._client.request(landscape_call(job, compute=False))

    def landscape_plot(self, job: JobRef) -> bytes:
        """The error surface's contour plot as PNG bytes, once its landscape is ready."""
        return self._client.request(landscape_plot_call(job)).content

    def predict(
        self,
        job: JobRef,
        rows: Sequence[Sequence[float]] | None = None,
        *,
        dataset: str | Dataset | None = None,
        timeout: float = 600.0,
        poll_interval: float = 0.5,
        idempotency_key: str | None = None,
    ) -> PredictionTable:
        """The job's model on raw `rows` (up to 1,000, each the features' values in the model's order) or on
        an uploaded `dataset` with the job's feature columns: waits while a worker predicts, then reads the CSV.
        A failed prediction raises PredictionFailedError; a refused request, UnprocessableEntityError or
        ConflictError naming the problem.

        The POST carries an Idempotency-Key (yours, or a fresh uuid4) that every retry repeats, so a
        retried request never predicts twice; reuse your key with another request and it is a ConflictError."""
        deadline = time.monotonic() + timeout
        made = self._client.request(predictions_call(job, prediction_request(rows, dataset), idempotency_key))
        while made.status == PredictionStatus.pending:
            if time.monotonic() >= deadline:
                raise APITimeoutError(f"predictions {made.id!r} were not made within {timeout:g} s")
            time.sleep(poll_interval)
            made = self._client.request(read_predictions_call(job, made.id))
        if made.status == PredictionStatus.failed:
            raise PredictionFailedError(made.id, made.error)
        text = self._client.request(read_predictions_call(job, made.id, ".csv")).content.decode()
        return PredictionTable.from_csv(made, text)

    def download_model(
        self, job: JobRef, path: str | os.PathLike[str], *, format: str = "safetensors", timeout: float = 600.0
    ) -> Path:
        """Write the job's trained model to `path` in `format` (safetensors, pt2 or onnx), waiting while a
        worker exports it; returns the path."""
        job_id = job.id if isinstance(job, Job) else job
        _path(job)  # refuses an empty id
        return download_model(self._client, job_id, path, export_format=format, timeout=timeout)

    def wait_landscape(self, job: JobRef, *, timeout: float = 600.0, poll_interval: float = 0.5) -> Landscape:
        """Ask for the error surface (unless already asked) and wait until it is ready or failed."""
        deadline = time.monotonic() + timeout
        landscape = self.compute_landscape(job)
        while landscape.status in ("queued", "running"):
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(landscape.job_id, timeout)
            time.sleep(poll_interval)
            landscape = self.landscape(job)
        return landscape

    def events(self, job: JobRef, *, last_event_id: str | None = None) -> Iterator[JobEvent]:
        """The job's live events — `StatusEvent`, `EpochEvent`, and last a `DiagnosisEvent` — until the
        server ends the stream (the job is final and diagnosed). Pass an event's `id` as `last_event_id`
        to get only what came after it; a dropped connection is resumed that way automatically."""
        return self._client.stream_events(_path(job, "/events"), last_event_id)

    def wait(
        self, job: JobRef, *, progress: bool = True, timeout: float | None = None, poll_interval: float = 1.0
    ) -> JobHandle:
        """Follow the job until it is succeeded, failed or cancelled and return it; never raises for a failed job.

        It listens to the job's events (polling every `poll_interval` s if the stream fails). `progress`
        draws a live bar on stderr and then prints the diagnosis verdict; `timeout` (seconds) raises
        `WaitTimeoutError`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with WaitProgress(enabled=progress) as bar:
            current = self.retrieve(job)
            if current.status.is_final:
                return current
            try:
                for event in self.events(current):
                    bar.update_event(current, event)
                    if isinstance(event, DiagnosisEvent):
                        bar.verdict(event.diagnosis)
                        break
                    final = isinstance(event, StatusEvent) and event.status.is_final
                    if final and not progress:
                        break  # only the bar shows the diagnosis: do not wait for it
                    if deadline is not None and time.monotonic() >= deadline:
                        if final:
                            break
                        raise WaitTimeoutError(current.id, timeout or 0.0)
            except STREAM_ERRORS:
                pass
            else:
                current = self.retrieve(current)
                if current.status.is_final:
                    return current
            while True:
                current = self.retrieve(job)
                losses = self.metrics(current, names=PROGRESS_METRICS) if bar.needs_metrics(current) else None
                bar.update(current, losses)
                if current.status.is_final:
                    return current
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeoutError(current.id, timeout or 0.0)
                time.sleep(poll_interval)

    def plot(self, job: JobRef, *, path: str | os.PathLike[str] | None = None, fold: int = 0) -> Figure:
        """A matplotlib Figure of loss and score per epoch, best epoch and verdict marked; a PNG at `path` if given."""
        current = self.retrieve(job)
        metrics = self.metrics(current, names=PLOT_METRICS, fold=fold)
        verdict = self.diagnosis(current).verdict if current.status.is_final else None
        return plot_job(current, metrics, fold=fold, path=path, verdict=verdict)


class AsyncJobs:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, spec: SpecInput, *, idempotency_key: str | None = None) -> AsyncJobHandle:
        """See `Jobs.create`."""
        return AsyncJobHandle.bind(await self._client.request(create_call(spec, idempotency_key)), self)

    async def retrieve(self, job: JobRef) -> AsyncJobHandle:
        return AsyncJobHandle.bind(await self._client.request(retrieve_call(job)), self)

    def list(
        self,
        *,
        status: JobStatus | str | None = None,
        parent_id: str | None = None,
        sweep_id: str | None = None,
        limit: int | None = None,
    ) -> AsyncPaginator[AsyncJobHandle]:
        """`await` it for the first page, or `async for job in client.jobs.list()` over every page."""

        async def fetch(cursor: str | None) -> AsyncCursorPage[AsyncJobHandle]:
            page = await self._client.request(list_call(status, parent_id, sweep_id, limit, cursor))
            return AsyncCursorPage([AsyncJobHandle.bind(j, self) for j in page.data], page.next_cursor, fetch)

        return AsyncPaginator(lambda: fetch(None))

    async def cancel(self, job: JobRef) -> AsyncJobHandle:
        return AsyncJobHandle.bind(await self._client.request(cancel_call(job)), self)

    async def delete(self, job: JobRef) -> None:
        await self._client.request(delete_call(job))

    async def metrics(
        self,
        job: JobRef,
        *,
        names: Iterable[str] | None = None,
        fold: int | None = None,
        max_points: int | None = None,
        from_step: int | None = None,
        to_step: int | None = None,
    ) -> JobMetrics:
        return await self._client.request(metrics_call(job, names, fold, max_points, (from_step, to_step)))

    async def export_metrics(self, job: JobRef, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
        """See `Jobs.export_metrics`."""
        destination = Path(path)
        chosen = export_format_for(destination, format)
        return await write_export_async(self._client, _path(job, "/metrics/export"), destination, chosen)

    async def metrics_to_pandas(self, job: JobRef) -> pd.DataFrame:
        """See `Jobs.metrics_to_pandas`."""
        return metrics_frame((await self._client.request(metrics_parquet_call(job))).content)

    async def diagnosis(self, job: JobRef) -> Diagnosis:
        return await self._client.request(diagnosis_call(job))

    async def run_remedy(self, job: JobRef, code: str, *, index: int = 0) -> AsyncJobHandle:
        return AsyncJobHandle.bind(await self._client.request(remedy_call(job, code, index)), self)

    async def compute_landscape(self, job: JobRef) -> Landscape:
        """See `Jobs.compute_landscape`."""
        return await self._client.request(landscape_call(job, compute=True))

    async def landscape(self, job: JobRef) -> Landscape:
        """See `Jobs.landscape`."""
        return await self._client.request(landscape_call(job, compute=False))

    async def landscape_plot(self, job: JobRef) -> bytes:
        """See `Jobs.landscape_plot`."""
        return (await self._client.request(landscape_plot_call(job))).content

    async def predict(
        self,
        job: JobRef,
        rows: Sequence[Sequence[float]] | None = None,
        *,
        dataset: str | Dataset | None = None,
        timeout: float = 600.0,
        poll_interval: float = 0.5,
        idempotency_key: str | None = None,
    ) -> PredictionTable:
        """See `Jobs.predict`."""
        deadline = time.monotonic() + timeout
        made = await self._client.request(predictions_call(job, prediction_request(rows, dataset), idempotency_key))
        while made.status == PredictionStatus.pending:
            if time.monotonic() >= deadline:
                raise APITimeoutError(f"predictions {made.id!r} were not made within {timeout:g} s")
            await asyncio.sleep(poll_interval)
            made = await self._client.request(read_predictions_call(job, made.id))
        if made.status == PredictionStatus.failed:
            raise PredictionFailedError(made.id, made.error)
        text = (await self._client.request(read_predictions_call(job, made.id, ".csv"))).content.decode()
        return PredictionTable.from_csv(made, text)

    async def wait_landscape(self, job: JobRef, *, timeout: float = 600.0, poll_interval: float = 0.5) -> Landscape:
        """See `Jobs.wait_landscape`."""
        deadline = time.monotonic() + timeout
        landscape = await self.compute_landscape(job)
        while landscape.status in ("queued", "running"):
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(landscape.job_id, timeout)
            await asyncio.sleep(poll_interval)
            landscape = await self.landscape(job)
        return landscape

    def events(self, job: JobRef, *, last_event_id: str | None = None) -> AsyncIterator[JobEvent]:
        """See `Jobs.events`: `async for event in client.jobs.events(job)`."""
        return self._client.stream_events(_path(job, "/events"), last_event_id)

    async def wait(
        self, job: JobRef, *, progress: bool = True, timeout: float | None = None, poll_interval: float = 1.0
    ) -> AsyncJobHandle:
        """See `Jobs.wait`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with WaitProgress(enabled=progress) as bar:
            current = await self.retrieve(job)
            if current.status.is_final:
                return current
            try:
                async with contextlib.aclosing(self._client.stream_events(_path(current, "/events"))) as stream:
                    async for event in stream:
                        bar.update_event(current, event)
                        if isinstance(event, DiagnosisEvent):
                            bar.verdict(event.diagnosis)
                            break
                        final = isinstance(event, StatusEvent) and event.status.is_final
                        if final and not progress:
                            break
                        if deadline is not None and time.monotonic() >= deadline:
                            if final:
                                break
                            raise WaitTimeoutError(current.id, timeout or 0.0)
            except STREAM_ERRORS:
                pass
            else:
                current = await self.retrieve(current)
                if current.status.is_final:
                    return current
            while True:
                current = await self.retrieve(job)
                losses = await self.metrics(current, names=PROGRESS_METRICS) if bar.needs_metrics(current) else None
                bar.update(current, losses)
                if current.status.is_final:
                    return current
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeoutError(current.id, timeout or 0.0)
                await asyncio.sleep(poll_interval)

    async def plot(self, job: JobRef, *, path: str | os.PathLike[str] | None = None, fold: int = 0) -> Figure:
        current = await self.retrieve(job)
        metrics = await self.metrics(current, names=PLOT_METRICS, fold=fold)
        verdict = (await self.diagnosis(current)).verdict if current.status.is_final else None
        return plot_job(current, metrics, fold=fold, path=path, verdict=verdict)


__all__ = ["AsyncJobs", "JobRef", "Jobs"]
