"""The settings: the one place that reads the environment (TRAINWELL_*).

They live in `core`, the layer below both the API and the worker (docs/architecture.md).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from trainwell.limits import ServiceLimits

# Values that must never guard a production deployment.
UNSAFE_ADMIN_KEYS = frozenset({"", "changeme", "change-me", "admin", "secret", "trainwell"})
# What production must be told: its defaults are embedded mode's SQLite files, which hold one
# machine's jobs and cannot be shared by workers on other hosts, so a production deployment that
# forgot one would come up and quietly keep its jobs in a local file.
PRODUCTION_REQUIRED = {"database_url": "TRAINWELL_DATABASE_URL", "broker_url": "TRAINWELL_BROKER_URL"}


class Settings(BaseSettings):
    # hide_input_in_errors: a refused configuration's message must not echo the admin key or a
    # database URL's password into a log.
    model_config = SettingsConfigDict(env_prefix="TRAINWELL_", extra="ignore", hide_input_in_errors=True)

    mode: Literal["embedded", "production"] = "embedded"
    data_dir: Path = Path("var")
    # Embedded mode's defaults derive from data_dir (see _mode_defaults): a SQLite database and
    # Celery's SQLAlchemy transport on a second SQLite file, so `make run` needs no services.
    # Production mode has no default: both must be set.
    database_url: str = ""
    broker_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    admin_key: str | None = None
    # API processes `make run` starts (uvicorn --workers). A submission is CPU-bound Python
    # (validation, the insert, the broker send), so one process saturates one core; production
    # wants one per core (BENCHMARKS.md). Embedded mode's SQLite serializes writes anyway: 1.
    api_workers: int = Field(1, ge=1, le=64)
    # Database connections each process may hold (store/db.py): its pools never overflow, so a
    # deployment's total is API processes × api + workers × 3 × worker (each worker's main process, for
    # its reaper, the process of the job it trains and that of the job before, being diagnosed) + 2 (a migration, an admin command), to be kept under the
    # server's max_connections (docs/configuration.md, "Database connections"). Past its pool, a
    # request waits for a connection up to the pool timeout, then gets a 503. An API process needs 3:
    # one for submissions, two for other requests (one spare, store/db.py open_request_session).
    api_database_connections: int = Field(24, ge=3, le=1000)
    worker_database_connections: int = Field(2, ge=1, le=100)
    database_pool_timeout_seconds: float = Field(10.0, gt=0)
    # Browsers may call the API from these origins (JSON list); empty: CORS is off.
    cors_origins: list[str] = Field(default_factory=list)

    # What a finished job keeps of its checkpoints: "final", the last attempt's only (a resumed job's
    # earlier attempts' files are disk, nothing reads them once it ends); "all", every attempt's.
    keep_checkpoints: Literal["final", "all"] = "final"
    # Celery: Redis redelivers any message not acked within the visibility timeout
    # (celery#5935, #7651), so it must exceed the longest job we allow to run.
    max_job_seconds: int = Field(24 * 3600, ge=60)
    # Intra-op threads of each job's process (torch.set_num_threads; its landscape, export and
    # predictions processes too). A worker slot computes a training and the previous job's diagnosis at
    # once, and OpenMP threads spin at every barrier: more threads than cores made a small model's fit
    # 5-8x slower on a busy 2-core machine (docs/configuration.md). Default: the cores over those two.
    torch_threads: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 1) // 2), ge=1, le=1024)
    # How often a running job's worker writes its heartbeat and reads the cancel flag.
    # 0.5 s keeps a cancel well inside its 2 s promise: one small UPDATE per running job each time.
    heartbeat_seconds: float = Field(0.5, gt=0)
    # A running job whose heartbeat is older than this lost its worker: the reaper
    # requeues it (or fails it with reason worker_lost after max_attempts claims).
    # Thirty heartbeats of slack: a busy database or a long GC pause is not a crash.
    lease_seconds: float = Field(30.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    reaper_interval_seconds: float = Field(5.0, gt=0)
    # Redis here keeps nothing on disk, so a restart loses queued messages; the row is
    # the truth, and a job still queued this long after its last enqueue is sent again
    # (a duplicate is harmless: the claim lets only one delivery train).
    requeue_after_seconds: float = Field(300.0, gt=0)
    max_epochs: int = Field(10_000, ge=1)
    # Every request body is capped (api/limits.py): a job spec is a few KiB, so 1 MiB is generous.
    max_request_bytes: int = Field(1024 * 1024, ge=1024)
    # Uploads are parsed in the API process, all in memory: 64 MiB of CSV is at most 32M cells,
    # 128 MiB as float32; a dataset past these is beyond "small and medium models" anyway.
    # The upload request may exceed max_dataset_bytes by api.limits.MULTIPART_SLACK_BYTES.
    max_dataset_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_dataset_rows: int = Field(1_000_000, ge=2)
    max_dataset_columns: int = Field(10_000, ge=1)
    # Quotas per principal, checked before a job is stored (api/services/quotas.py).
    max_model_parameters: int = Field(50_000_000, ge=1)
    max_active_jobs: int = Field(100, ge=1, description="queued + running jobs per principal")
    submissions_per_minute: int = Field(120, ge=1)
    # Bytes on disk per principal: uploads, checkpoints and model exports (GET /v1/usage). Past it, uploads
    # are refused (413) and jobs too (429), until the principal deletes jobs or datasets. Off by default:
    # what a data directory can hold is the deployment's to know, and each principal shares it with the
    # rest; an operator who lends the service to several users sets it to their share of the disk.
    max_stored_bytes: int | None = Field(None, ge=1, description="stored bytes per principal; unset: no limit")
    # Runs from the user's own loop (POST /v1/runs/{id}/metrics): points per batch (10,000 points of JSON
    # are ~0.8 MiB, inside max_request_bytes) and per minute per principal, counted by each API process.
    # 10M a minute is ~170k points/s: above what one server ingests, so a 1M-point run is never slowed.
    max_run_points_per_batch: int = Field(10_000, ge=1)
    run_points_per_minute: int = Field(10_000_000, ge=1)
    # A sweep's cells × seeds; its trials are released max_parallel at a time within max_active_jobs.
    max_sweep_trials: int = Field(
        500, ge=1, description="trials (cells or a search's configurations × seeds) per sweep"
    )
    # Set by `make run`'s supervisor for its worker: the worker touches this file once it
    # consumes, so "serving" is printed only when jobs can actually train.
    worker_ready_file: Path | None = None
    # The queues `make run`'s worker consumes (JSON list); unset: `train`, and `gpu` only on a host with
    # a GPU (core/devices.py), since a CPU worker could only fail a cuda job.
    worker_queues: list[str] | None = None
    # Set by `make run`'s supervisor for the API: each API process dies with its parent
    # (core/process.py), so a killed supervisor leaves no server holding the port.
    exit_with_parent: bool = False

    @model_validator(mode="after")
    def _mode_defaults(self) -> Settings:
        if self.mode == "production":
            missing = [name for field, name in PRODUCTION_REQUIRED.items() if not getattr(self, field).strip()]
            if missing:
                raise ValueError(
                    f"TRAINWELL_MODE=production needs {' and '.join(PRODUCTION_REQUIRED.values())}; "
                    f"missing: {', '.join(missing)} (refusing to fall back to embedded mode's SQLite files)"
                )
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'trainwell.sqlite').resolve()}"
        if not self.broker_url:
            self.broker_url = f"sqla+sqlite:///{(self.data_dir / 'broker.sqlite').resolve()}"
        if self.mode == "production" and self.admin_key is not None and self.admin_key.strip() in UNSAFE_ADMIN_KEYS:
            raise ValueError("TRAINWELL_ADMIN_KEY is empty or a sample value; refusing to start in production mode")
        return self

    @property
    def limits(self) -> ServiceLimits:
        """What a job may ask for here: the submit path refuses past it, the diagnosis plans within it."""
        return ServiceLimits(max_epochs=self.max_epochs, max_model_parameters=self.max_model_parameters)

    @property
    def visibility_timeout(self) -> int:
        return self.max_job_seconds + 3600

    @property
    def dataset_dir(self) -> Path:
        """Uploaded datasets, normalized, one `<id>.npz` each (trainer/datasets.py reads them)."""
        return self.data_dir / "datasets"

    @property
    def checkpoint_dir(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def key_file(self) -> Path:
        """Embedded mode writes the local API key here (0600); the SDK and CLI read it."""
        return self.data_dir / "api_key"


@lru_cache
def get_settings() -> Settings:
    return Settings()
