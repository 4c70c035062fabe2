"""A job's trained model, downloaded to a file: the service answers 202 with Retry-After while a worker
exports it, then streams the file, which is written beside its destination and renamed (never half a model)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from trainwell._base_client import parse_retry_after
from trainwell._exceptions import APITimeoutError, status_error
from trainwell.model_formats import MODEL_FORMATS

if TYPE_CHECKING:
    from trainwell._client import Client

CHUNK = 1 << 20


def download_model(
    client: Client, job_id: str, path: str | os.PathLike[str], *, export_format: str, timeout: float
) -> Path:
    if export_format not in MODEL_FORMATS:
        raise ValueError(f"unknown format {export_format!r}; allowed: {', '.join(MODEL_FORMATS)}")
    destination = Path(path)
    deadline = time.monotonic() + timeout
    url = f"{client.base_url}/v1/jobs/{job_id}/model"
    headers = {"Authorization": f"Bearer {client.api_key}"}
    while True:
        request = client._http.build_request(
            "GET", url, params={"format": export_format}, headers=headers, timeout=client.timeout
        )
        try:
            response = client._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise client._connection_error(exc, request) from None
        try:
            if response.status_code == 202:
                wait = parse_retry_after(response.headers.get("retry-after")) or 1.0
                if time.monotonic() + wait > deadline:
                    raise APITimeoutError(f"job {job_id}'s {export_format} model was not ready within {timeout} s")
                time.sleep(wait)
                continue
            if response.is_error:
                response.read()
                raise status_error(response)
            temporary = destination.with_name(f".{destination.name}.part")
            with open(temporary, "wb") as file:
                for chunk in response.iter_bytes(CHUNK):
                    file.write(chunk)
            os.replace(temporary, destination)
            return destination
        finally:
            response.close()
