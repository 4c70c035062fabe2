"""`client.sweeps`: create, retrieve, list, cancel, trials, wait, table, plot, importance.

Each operation is described once as a `Call`; `Sweeps` and `AsyncSweeps` only send it.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from trainwell._base_client import Call
from trainwell._exceptions import WaitTimeoutError
from trainwell._handle import AsyncJobHandle, JobHandle
from trainwell._pagination import AsyncCursorPage, AsyncPaginator, SyncCursorPage
from trainwell._spec_file import SpecInput, spec_payload
from trainwell._sweep_plot import plot_sweep
from trainwell._sweep_progress import SweepProgress
from trainwell._sweep_table import SweepTable
from trainwell.job import JobStatus
from trainwell.spec import JobSpec
from trainwell.sweep import EarlyStop, Search, Sweep, SweepImportance, SweepPage

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from trainwell._client import AsyncClient, Client

SweepRef = str | Sweep
Grid = Mapping[str, Sequence[Any]]
SearchInput = Search | Mapping[str, Any]
EarlyStopInput = EarlyStop | Mapping[str, Any]
# the API's largest page: trials() reads every page, so the fewer requests the better
TRIALS_PAGE = 200


def _id(sweep: SweepRef) -> str:
    sweep_id = sweep.id if isinstance(sweep, Sweep) else sweep
    if not sweep_id:
        raise ValueError("sweep id must be a non-empty string")
    return sweep_id


def _path(sweep: SweepRef, suffix: str = "") -> str:
    return f"/v1/sweeps/{quote(_id(sweep), safe='')}{suffix}"


def base_payload(base: SpecInput) -> dict[str, Any]:
    """The base spec as the request body carries it. A JobSpec sends only the fields it was given: the
    service expands the grid over the base as written, so defaults stay defaults in every cell (a trial's
    probes stay off unless the base turns them on)."""
    if isinstance(base, JobSpec):
        return base.model_dump(mode="json", exclude_unset=True)
    return spec_payload(base)


def early_stop_payload(early_stop: EarlyStopInput) -> dict[str, Any]:
    """An early stop as the request body carries it: an EarlyStop as its JSON, a mapping as given."""
    if isinstance(early_stop, EarlyStop):
        return early_stop.model_dump(mode="json", exclude_unset=True)
    return dict(early_stop)


def search_payload(search: SearchInput) -> dict[str, Any]:
    """A search as the request body carries it: a Search as its JSON, a mapping as given (the service
    checks it, and a refusal is an `UnprocessableEntityError` naming the field, as for a grid)."""
    if isinstance(search, Search):
        return search.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dict(search)


def create_call(
    base: SpecInput,
    grid: Grid | None,
    search: SearchInput | None,
    seeds: Sequence[int] | None,
    max_parallel: int | None,
    name: str | None,
    idempotency_key: str | None,
    early_stop: EarlyStopInput | None = None,
) -> Call[Sweep]:
    body: dict[str, Any] = {"base": base_payload(base)}
    optional = {
        "grid": None if grid is None else {key: list(values) for key, values in grid.items()},
        "search": None if search is None else search_payload(search),
        "name": name,
        "seeds": None if seeds is None else list(seeds),
        "max_parallel": max_parallel,
        "early_stop": None if early_stop is None else early_stop_payload(early_stop),
    }
    body |= {key: value for key, value in optional.items() if value is not None}  # absent: the service's default
    return Call("POST", "/v1/sweeps", Sweep, json=body, idempotency_key=idempotency_key)


def retrieve_call(sweep: SweepRef) -> Call[Sweep]:
    return Call("GET", _path(sweep), Sweep)


def importance_call(sweep: SweepRef) -> Call[SweepImportance]:
    return Call("GET", _path(sweep, "/importance"), SweepImportance)


def cancel_call(sweep: SweepRef) -> Call[Sweep]:
    return Call("POST", _path(sweep, "/cancel"), Sweep)


def list_call(limit: int | None, cursor: str | None) -> Call[SweepPage]:
    params = {"limit": limit, "cursor": cursor}
    return Call("GET", "/v1/sweeps", SweepPage, params={k: v for k, v in params.items() if v is not None})


class Sweeps:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        base: SpecInput,
        grid: Grid | None = None,
        *,
        search: SearchInput | None = None,
        seeds: Sequence[int] | None = None,
        max_parallel: int | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
        early_stop: EarlyStopInput | None = None,
    ) -> Sweep:
        """Run `base` (a JobSpec, a dict or a spec file) once per grid cell and seed, or once per seed for each
        configuration a search samples.

        `grid` maps a dotted spec path to its values (`{"optimizer.name": ["sgd", "adam"]}`); an object value
        is a merge patch on that field. `search` instead (a `Search` or its dict) gives ranges and choices
        (`{"space": {"optimizer.lr": {"loguniform": [1e-5, 1]}}, "sampler": "tpe", "trials": 40}`) from
        which the service samples `trials` configurations as the sweep has room. A grid or space the service
        refuses is an `UnprocessableEntityError` naming the key or cell, and nothing is stored. The POST's
        Idempotency-Key makes a retry safe, as for jobs. `early_stop` (an `EarlyStop` or its dict,
        `{"asha": {"min_epochs": 1, "reduction_factor": 3}}`) ends weak trials at rungs (ASHA).
        """
        return self._client.request(
            create_call(base, grid, search, seeds, max_parallel, name, idempotency_key, early_stop)
        )

    def retrieve(self, sweep: SweepRef) -> Sweep:
        """The sweep with its comparison: `table` (a row per cell), `best` and `findings`."""
        return self._client.request(retrieve_call(sweep))

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> SyncCursorPage[Sweep]:
        """Your sweeps, newest first, without their tables. `limit` is the page size; iterating walks every
        page from `cursor` (a page's `next_cursor`) on, or from the newest."""

        def fetch(after: str | None) -> SyncCursorPage[Sweep]:
            page = self._client.request(list_call(limit, after))
            return SyncCursorPage(page.data, page.next_cursor, fetch)

        return fetch(cursor)

    def cancel(self, sweep: SweepRef) -> Sweep:
        """Cancel every unfinished trial and release no more; an ended sweep is a `ConflictError`."""
        return self._client.request(cancel_call(sweep))

    def importance(self, sweep: SweepRef) -> SweepImportance:
        """Which parameters explain the variation of the objective over the finished configurations (Optuna's
        fANOVA, seeded), most important first, each with its best region; with fewer than two finished
        configurations or varying parameters, none and a `reason`."""
        return self._client.request(importance_call(sweep))

    def trials(self, sweep: SweepRef, *, status: JobStatus | str | None = None) -> builtins.list[JobHandle]:
        """The sweep's trials released so far, as jobs, newest first (a trial still waiting has no job yet)."""
        return list(self._client.jobs.list(sweep_id=_id(sweep), status=status, limit=TRIALS_PAGE))

    def wait(
        self, sweep: SweepRef, *, timeout: float | None = None, poll_interval: float = 1.0, progress: bool = False
    ) -> Sweep:
        """Poll the sweep until it ended (every trial ended, or it was cancelled) and return it with its table.

        `progress` draws a live bar of trials ended on stderr; `timeout` (seconds) raises `WaitTimeoutError`
        and leaves the sweep running.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with SweepProgress(enabled=progress) as bar:
            while True:
                current = self.retrieve(sweep)
                bar.update(current)
                if current.status.is_final:
                    return current
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeoutError(current.id, timeout or 0.0)
                time.sleep(poll_interval)

    def table(self, sweep: SweepRef) -> SweepTable:
        """The comparison's rows (`SweepCell`), one per cell in grid order (a search's configurations in the
        order sampled, `values` their sampled values); `.to_pandas()` for a DataFrame."""
        return SweepTable(self.retrieve(sweep).table)

    def plot(
        self, sweep: SweepRef, *, metric: str = "val_loss", fold: int = 0, path: str | os.PathLike[str] | None = None
    ) -> Figure:
        """A matplotlib Figure of each cell's mean `metric` per epoch over its succeeded trials, ±std shaded;
        a PNG at `path` if given (needs the extra `trainwell[plot]`)."""
        current = self.retrieve(sweep)
        succeeded = {job.id for job in self.trials(current, status=JobStatus.succeeded)}
        jobs = self._client.jobs
        curves = {
            row.cell: [
                series
                for job_id in row.job_ids
                if job_id in succeeded
                for series in jobs.metrics(job_id, names=[metric], fold=fold).series
            ]
            for row in current.table
        }
        return plot_sweep(current, curves, metric=metric, path=path)


class AsyncSweeps:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        base: SpecInput,
        grid: Grid | None = None,
        *,
        search: SearchInput | None = None,
        seeds: Sequence[int] | None = None,
        max_parallel: int | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
        early_stop: EarlyStopInput | None = None,
    ) -> Sweep:
        """See `Sweeps.create`."""
        return await self._client.request(
            create_call(base, grid, search, seeds, max_parallel, name, idempotency_key, early_stop)
        )

    async def retrieve(self, sweep: SweepRef) -> Sweep:
        return await self._client.request(retrieve_call(sweep))

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> AsyncPaginator[Sweep]:
        """`await` it for the first page, or `async for sweep in client.sweeps.list()` over every page."""

        async def fetch(after: str | None) -> AsyncCursorPage[Sweep]:
            page = await self._client.request(list_call(limit, after))
            return AsyncCursorPage(page.data, page.next_cursor, fetch)

        return AsyncPaginator(lambda: fetch(cursor))

    async def cancel(self, sweep: SweepRef) -> Sweep:
        return await self._client.request(cancel_call(sweep))

    async def importance(self, sweep: SweepRef) -> SweepImportance:
        """See `Sweeps.importance`."""
        return await self._client.request(importance_call(sweep))

    async def trials(self, sweep: SweepRef, *, status: JobStatus | str | None = None) -> builtins.list[AsyncJobHandle]:
        """See `Sweeps.trials`."""
        return [job async for job in self._client.jobs.list(sweep_id=_id(sweep), status=status, limit=TRIALS_PAGE)]

    async def wait(
        self, sweep: SweepRef, *, timeout: float | None = None, poll_interval: float = 1.0, progress: bool = False
    ) -> Sweep:
        """See `Sweeps.wait`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with SweepProgress(enabled=progress) as bar:
            while True:
                current = await self.retrieve(sweep)
                bar.update(current)
                if current.status.is_final:
                    return current
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeoutError(current.id, timeout or 0.0)
                await asyncio.sleep(poll_interval)

    async def table(self, sweep: SweepRef) -> SweepTable:
        """See `Sweeps.table`."""
        return SweepTable((await self.retrieve(sweep)).table)


__all__ = ["AsyncSweeps", "SweepRef", "Sweeps", "base_payload"]
