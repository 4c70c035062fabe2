"""The trained model as a download, against its targets (BENCHMARKS.md):

1. Exporting the digits MLP (W1, two epochs) to each format as the worker does: in a process forked from
   a parent that imported what worker/model_export.py imports. Baseline, in the same run and interleaved:
   the same fork writing the job's epoch checkpoint (trainer/checkpoint.py). Target: each export ≤ 2 s.
2. A cached download from the API (`make run`'s API process, embedded SQLite, no worker): GET
   /v1/jobs/{id}/model of a 256 MiB file, streamed to nothing. Baseline: reading the same file from the
   page cache in this process. Target: ≥ 200 MB/s; the API's peak RSS grows by far less than the file.

Paired ratios, median over rounds.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

import worker.model_export  # noqa: F401  (the worker's warm imports: the forks below start as its do)
from bench.trainer import WORKLOADS
from store.db import make_engine
from store.jobs import create_job
from store.model_exports import finish_export, request_export
from store.models import Job
from store.principals import get_or_create_principal
from tests.stack import make_services, new_key
from trainer import fit
from trainer.checkpoint import save_checkpoint
from trainer.datasets import load_dataset
from trainer.model_export import export_model, onnx_registry
from trainer.model_file import model_card, write_model_file
from trainwell.job import JobStatus
from trainwell.model_formats import MODEL_FORMATS
from trainwell.spec import JobSpec
from worker.job_process import run_in_fresh_process

RESULTS = Path(__file__).parent / "results" / "models.json"
EXPORT_ROUNDS = 5
DOWNLOAD_ROUNDS = 5
DOWNLOAD_BYTES = 256 * 2**20
CHUNK = 1 << 20


def _forked_seconds(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    code = run_in_fresh_process(lambda: (work(), None)[1])
    elapsed = time.perf_counter() - began
    assert code == 0, f"the forked process exited with {code}"
    return elapsed


def export_times(tmp: Path) -> dict[str, Any]:
    spec = JobSpec.model_validate({**WORKLOADS["W1"]["spec"], "epochs": 2})
    result = fit(spec)
    assert result.state_dict is not None
    model_file = tmp / MODEL_FORMATS["safetensors"].file_name
    write_model_file(model_file, result.state_dict, model_card(spec, result, load_dataset(spec.dataset)))
    state = {"model": result.state_dict, "spec": spec.model_dump_json()}
    # the worker's pool process builds the ONNX translations before forking its first ONNX export, and
    # keeps them (trainer/model_export.py): `onnx` is each later export, `onnx_first` a pool process's first
    onnx_registry()
    work: dict[str, Callable[[], object]] = {
        "checkpoint": lambda: save_checkpoint(tmp / "attempt-1.pt", state),
        "pt2": lambda: export_model(model_file, "pt2"),
        "onnx": lambda: export_model(model_file, "onnx"),
        "onnx_first": lambda: (onnx_registry.cache_clear(), export_model(model_file, "onnx")),
    }
    times: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(EXPORT_ROUNDS):
        for name, export in work.items():
            times[name].append(_forked_seconds(export))
    baseline = times["checkpoint"]
    return {
        name: {
            "median_s": round(statistics.median(seconds), 3),
            "max_s": round(max(seconds), 3),
            "ratio_to_checkpoint": round(statistics.median(x / y for x, y in zip(seconds, baseline, strict=True)), 1),
            "bytes": (tmp / MODEL_FORMATS[name.removesuffix("_first")].file_name).stat().st_size,
        }
        for name, seconds in times.items()
        if name != "checkpoint"
    } | {"checkpoint": {"median_s": round(statistics.median(baseline), 3)}}


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def download_rate(tmp: Path) -> dict[str, Any]:
    services = make_services(
        tmp, database_url=f"sqlite:///{tmp / 'trainwell.sqlite'}", broker_url=f"sqla+sqlite:///{tmp / 'broker.sqlite'}"
    )
    engine = make_engine(services.database_url)
    key = new_key(services.database_url, "bench-models")
    with Session(engine) as session:
        owner = get_or_create_principal(session=session, name="bench-models")
        job = create_job(
            session=session, principal_id=owner.id, spec=JobSpec.model_validate(WORKLOADS["W1"]["spec"]), queue="train"
        )
        session.execute(update(Job).where(Job.id == job.id).values(status=JobStatus.succeeded.value))
        request_export(session=session, job_id=job.id, principal_id=owner.id, export_format="onnx", file_exists=False)
        finish_export(session=session, job_id=job.id, export_format="onnx", size=DOWNLOAD_BYTES, etag='"b"', error=None)
        session.commit()
        job_id = job.id
    engine.dispose()
    directory = services.data_dir / "checkpoints" / job_id
    directory.mkdir(parents=True)
    (directory / MODEL_FORMATS["safetensors"].file_name).write_bytes(b"weights")
    big = directory / MODEL_FORMATS["onnx"].file_name
    with open(big, "wb") as file:
        for _ in range(DOWNLOAD_BYTES // CHUNK):
            file.write(os.urandom(CHUNK))
    services.start_api(workers=1)
    try:
        assert services.api is not None
        rss_before = _peak_rss_kib(services.api.pid)
        api_rates, disk_rates = [], []
        with services.client(key) as client:
            for _ in range(DOWNLOAD_ROUNDS):
                began = time.perf_counter()
                with open(big, "rb") as file:
                    while file.read(CHUNK):
                        pass
                disk_rates.append(DOWNLOAD_BYTES / (time.perf_counter() - began))
                began = time.perf_counter()
                received = 0
                with client.stream("GET", f"/v1/jobs/{job_id}/model", params={"format": "onnx"}) as response:
                    assert response.status_code == 200, response.read()
                    for chunk in response.iter_raw(CHUNK):
                        received += len(chunk)
                api_rates.append(DOWNLOAD_BYTES / (time.perf_counter() - began))
                assert received == DOWNLOAD_BYTES
        rss_after = _peak_rss_kib(services.api.pid)
    finally:
        services.stop()
    return {
        "file_mib": DOWNLOAD_BYTES // 2**20,
        "api_mb_per_s": round(statistics.median(api_rates) / 1e6),
        "page_cache_mb_per_s": round(statistics.median(disk_rates) / 1e6),
        "ratio_to_page_cache": round(statistics.median(a / d for a, d in zip(api_rates, disk_rates, strict=True)), 3),
        "api_peak_rss_growth_mib": round((rss_after - rss_before) / 1024, 1),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as exports, tempfile.TemporaryDirectory() as downloads:
        results = {"export": export_times(Path(exports)), "download": download_rate(Path(downloads))}
    print(json.dumps(results, indent=2))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
