"""`client.datasets`: upload a CSV, Parquet or NPZ file; list and retrieve datasets."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from trainwell._base_client import Call
from trainwell.dataset import Dataset, DatasetList
from trainwell.spec import Task

if TYPE_CHECKING:
    from trainwell._client import AsyncClient, Client


def upload_call(path: str | os.PathLike[str], target: str, task: Task | None, name: str | None) -> Call[Dataset]:
    file = Path(path)
    # read once: every retry sends the same bytes
    files = {"file": (file.name, file.read_bytes())}
    data = {"target": target, **({"task": task} if task else {}), **({"name": name} if name else {})}
    return Call("POST", "/v1/datasets", Dataset, files=files, data=data)


def list_call() -> Call[DatasetList]:
    return Call("GET", "/v1/datasets", DatasetList)


def retrieve_call(dataset_id: str) -> Call[Dataset]:
    if not dataset_id:
        raise ValueError("dataset id must be a non-empty string")
    return Call("GET", f"/v1/datasets/{quote(dataset_id, safe='')}", Dataset)


class Datasets:
    def __init__(self, client: Client) -> None:
        self._client = client

    def upload(
        self, path: str | os.PathLike[str], *, target: str, task: Task | None = None, name: str | None = None
    ) -> Dataset:
        """Upload a table (.csv with a header row, .parquet, or .npz with arrays X and y); `target` names the
        label column. Its `id` (ds_…) is what a job spec's `dataset.name` takes. Uploading the same
        content again returns the same dataset."""
        return self._client.request(upload_call(path, target, task, name))

    def list(self) -> builtins.list[Dataset]:
        """The built-in and synthetic datasets, and your uploads."""
        return self._client.request(list_call()).data

    def retrieve(self, dataset_id: str) -> Dataset:
        return self._client.request(retrieve_call(dataset_id))


class AsyncDatasets:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def upload(
        self, path: str | os.PathLike[str], *, target: str, task: Task | None = None, name: str | None = None
    ) -> Dataset:
        """See `Datasets.upload`."""
        return await self._client.request(upload_call(path, target, task, name))

    async def list(self) -> builtins.list[Dataset]:
        return (await self._client.request(list_call())).data

    async def retrieve(self, dataset_id: str) -> Dataset:
        return await self._client.request(retrieve_call(dataset_id))


__all__ = ["AsyncDatasets", "Datasets"]
