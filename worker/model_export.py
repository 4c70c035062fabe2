"""The export task: a succeeded job's model file in a download format, made once and cached beside it.

Like a landscape it runs in a fresh process (worker/job_process.py): torch.export and the ONNX exporter
trace the model, and whatever they leave behind goes with that process. The ETag is the file's SHA-256,
so a client's cached copy stays valid exactly as long as the bytes are the same.

The exporters are imported here, in the worker's parent process, so each forked export starts warm:
imported in the fork, onnxscript and torch.onnx's exporter add ~2 s to every ONNX export and torch.export
~0.5 s to a .pt2 (bench/models.py measures the export).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import onnxscript  # noqa: F401  (see the module docstring)
import torch.export
import torch.onnx._internal.exporter._core  # noqa: F401
from celery import Task

from core.broker import EXPORT_TASK
from store.db import session_scope
from store.model_exports import finish_export
from trainer.model_export import export_model, onnx_registry
from worker.celery_app import app
from worker.job_process import run_in_fresh_process
from worker.model_files import model_file_path
from worker.retry import with_database_retry

log = logging.getLogger(__name__)
CHUNK = 1 << 20


@app.task(name=EXPORT_TASK, bind=True)
def export(self: Task, job_id: str, export_format: str) -> None:
    if export_format == "onnx":
        onnx_registry()  # built once here, in the pool's process: each forked export then starts with it
    exit_code = run_in_fresh_process(lambda: export_and_store(job_id, export_format))
    if exit_code != 0:  # killed, or out of memory: say so rather than leave it pending
        _store(job_id, export_format, None, f"the export's process exited with code {exit_code}")


def export_and_store(job_id: str, export_format: str) -> None:
    model_file = model_file_path(job_id)
    if not model_file.is_file():
        _store(job_id, export_format, None, "the job left no model file")
        return
    try:
        path = export_model(model_file, export_format)
    except Exception as exc:  # a model the exporter cannot trace: the reason, for the user and the log
        log.exception("job %s: export to %s failed", job_id, export_format)
        _store(job_id, export_format, None, f"{type(exc).__name__}: {exc}".splitlines()[0][:400])
        return
    _store(job_id, export_format, path, None)
    log.info("job %s: exported to %s (%d bytes)", job_id, export_format, path.stat().st_size)


def file_etag(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return f'"{digest.hexdigest()[:32]}"'


def _store(job_id: str, export_format: str, path: Path | None, error: str | None) -> None:
    size = path.stat().st_size if path is not None else None
    etag = file_etag(path) if path is not None else None

    def write() -> None:
        with session_scope() as session:
            finish_export(
                session=session, job_id=job_id, export_format=export_format, size=size, etag=etag, error=error
            )

    with_database_retry(write, what=f"export {export_format} of job {job_id}")
