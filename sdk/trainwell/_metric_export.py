"""A job's whole metric history from GET /v1/jobs/{id}/metrics/export: written to a file as it streams
(beside its destination, then renamed: never half a file), or read into a pandas DataFrame."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from trainwell._exceptions import status_error
from trainwell.metric_export import METRIC_EXPORT_FORMATS

if TYPE_CHECKING:
    import pandas as pd

    from trainwell._client import AsyncClient, Client

CHUNK = 1 << 20
SUFFIXES = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet"}


def export_format_for(path: Path, export_format: str | None) -> str:
    """The format asked for, or the one the file's suffix names."""
    chosen = export_format or SUFFIXES.get(path.suffix.lower())
    if chosen is None:
        raise ValueError(f"name a format for {path.name!r}: one of {', '.join(METRIC_EXPORT_FORMATS)}")
    if chosen not in METRIC_EXPORT_FORMATS:
        raise ValueError(f"unknown format {chosen!r}; allowed: {', '.join(METRIC_EXPORT_FORMATS)}")
    return chosen


def _request(client: Client | AsyncClient, path: str, export_format: str) -> httpx.Request:
    return client._http.build_request(
        "GET",
        f"{client.base_url}{path}",
        params={"format": export_format},
        headers={"Authorization": f"Bearer {client.api_key}"},
        timeout=client.timeout,
    )


def write_export(client: Client, path: str, destination: Path, export_format: str) -> Path:
    request = _request(client, path, export_format)
    try:
        response = client._http.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise client._connection_error(exc, request) from None
    temporary = destination.with_name(f".{destination.name}.part")
    try:
        if response.is_error:
            response.read()
            raise status_error(response)
        with open(temporary, "wb") as file:
            for chunk in response.iter_bytes(CHUNK):
                file.write(chunk)
        os.replace(temporary, destination)
        return destination
    except httpx.HTTPError as exc:
        raise client._connection_error(exc, request) from None
    finally:
        response.close()
        temporary.unlink(missing_ok=True)


async def write_export_async(client: AsyncClient, path: str, destination: Path, export_format: str) -> Path:
    request = _request(client, path, export_format)
    try:
        response = await client._http.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise client._connection_error(exc, request) from None
    temporary = destination.with_name(f".{destination.name}.part")
    try:
        if response.is_error:
            await response.aread()
            raise status_error(response)
        with open(temporary, "wb") as file:
            async for chunk in response.aiter_bytes(CHUNK):
                file.write(chunk)
        os.replace(temporary, destination)
        return destination
    except httpx.HTTPError as exc:
        raise client._connection_error(exc, request) from None
    finally:
        await response.aclose()
        temporary.unlink(missing_ok=True)


def metrics_frame(parquet: bytes) -> pd.DataFrame:
    """The Parquet export as a DataFrame: name, fold, epoch, step, value, one row per point."""
    pandas = _pandas_with_parquet()
    frame: pd.DataFrame = pandas.read_parquet(io.BytesIO(parquet))
    return frame


def _pandas_with_parquet() -> Any:
    try:
        import pandas
        import pyarrow  # noqa: F401  (pandas reads Parquet through it)
    except ImportError:
        raise ImportError(
            "metrics_to_pandas() needs pandas and pyarrow: pip install 'trainwell[pandas]' (or pip install pandas pyarrow)"
        ) from None
    return pandas
