"""Jobs as the SDK hands them out: the shared `Job` model plus the calls that concern that job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr

from trainwell.job import Job, JobMetrics

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd
    from matplotlib.figure import Figure

    from trainwell.dataset import Dataset
    from trainwell.predictions import PredictionTable
    from trainwell.resources.jobs import AsyncJobs, Jobs


class JobHandle(Job):
    """A `Job` that remembers the client that fetched it: `job.wait()`, `job.metrics()`, `job.plot()`.

    Its fields are a snapshot; `wait()`, `refresh()` and `cancel()` return a new, current handle.
    """

    _jobs: Any = PrivateAttr(default=None)

    @classmethod
    def bind(cls, job: Job, jobs: Jobs) -> JobHandle:
        handle = cls.model_validate(job, from_attributes=True)
        handle._jobs = jobs
        return handle

    def refresh(self) -> JobHandle:
        return self._resource().retrieve(self.id)

    def wait(self, *, progress: bool = True, timeout: float | None = None, poll_interval: float = 1.0) -> JobHandle:
        return self._resource().wait(self.id, progress=progress, timeout=timeout, poll_interval=poll_interval)

    def cancel(self) -> JobHandle:
        return self._resource().cancel(self.id)

    def metrics(
        self, *, names: list[str] | None = None, fold: int | None = None, max_points: int | None = None
    ) -> JobMetrics:
        return self._resource().metrics(self.id, names=names, fold=fold, max_points=max_points)

    def metrics_to_pandas(self) -> pd.DataFrame:
        """Every metric point as a DataFrame (see client.jobs.metrics_to_pandas)."""
        return self._resource().metrics_to_pandas(self.id)

    def export_metrics(self, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
        """Every metric point written to a file (see client.jobs.export_metrics)."""
        return self._resource().export_metrics(self.id, path, format=format)

    def plot(self, path: str | os.PathLike[str] | None = None, *, fold: int = 0) -> Figure:
        return self._resource().plot(self.id, path=path, fold=fold)

    def download_model(self, path: str | os.PathLike[str], *, format: str = "safetensors") -> Path:
        return self._resource().download_model(self.id, path, format=format)

    def predict(
        self,
        rows: Sequence[Sequence[float]] | None = None,
        *,
        dataset: str | Dataset | None = None,
        idempotency_key: str | None = None,
    ) -> PredictionTable:
        """The model's predictions on raw `rows` or an uploaded `dataset` (see client.jobs.predict)."""
        return self._resource().predict(self.id, rows, dataset=dataset, idempotency_key=idempotency_key)

    def _resource(self) -> Jobs:
        if self._jobs is None:
            raise RuntimeError("this job is not bound to a client; use client.jobs.retrieve(job_id)")
        jobs: Jobs = self._jobs
        return jobs


class AsyncJobHandle(Job):
    """The `AsyncClient`'s job: the same snapshot, with awaitable calls."""

    _jobs: Any = PrivateAttr(default=None)

    @classmethod
    def bind(cls, job: Job, jobs: AsyncJobs) -> AsyncJobHandle:
        handle = cls.model_validate(job, from_attributes=True)
        handle._jobs = jobs
        return handle

    async def refresh(self) -> AsyncJobHandle:
        return await self._resource().retrieve(self.id)

    async def wait(
        self, *, progress: bool = True, timeout: float | None = None, poll_interval: float = 1.0
    ) -> AsyncJobHandle:
        return await self._resource().wait(self.id, progress=progress, timeout=timeout, poll_interval=poll_interval)

    async def cancel(self) -> AsyncJobHandle:
        return await self._resource().cancel(self.id)

    async def metrics(
        self, *, names: list[str] | None = None, fold: int | None = None, max_points: int | None = None
    ) -> JobMetrics:
        return await self._resource().metrics(self.id, names=names, fold=fold, max_points=max_points)

    async def metrics_to_pandas(self) -> pd.DataFrame:
        return await self._resource().metrics_to_pandas(self.id)

    async def export_metrics(self, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
        return await self._resource().export_metrics(self.id, path, format=format)

    async def plot(self, path: str | os.PathLike[str] | None = None, *, fold: int = 0) -> Figure:
        return await self._resource().plot(self.id, path=path, fold=fold)

    async def predict(
        self,
        rows: Sequence[Sequence[float]] | None = None,
        *,
        dataset: str | Dataset | None = None,
        idempotency_key: str | None = None,
    ) -> PredictionTable:
        """See `JobHandle.predict`."""
        return await self._resource().predict(self.id, rows, dataset=dataset, idempotency_key=idempotency_key)

    def _resource(self) -> AsyncJobs:
        if self._jobs is None:
            raise RuntimeError("this job is not bound to a client; use client.jobs.retrieve(job_id)")
        jobs: AsyncJobs = self._jobs
        return jobs
