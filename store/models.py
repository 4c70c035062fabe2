"""The schema, as typed SQLAlchemy 2.0 models. Alembic migrations create it; the app never calls create_all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import false
from sqlalchemy.types import TypeDecorator

from trainwell.job import JobOrigin, JobStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are UTC and timezone-aware on every database: SQLite stores no zone and
    hands back naive values, which must not mix with aware ones in arithmetic or JSON."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Principal(Base):
    """Whoever owns jobs: a person, a team or a service. Keys belong to a principal."""

    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A bearer key, stored as a hash only; the prefix finds the row without scanning hashes."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    # an admin key sees every principal's jobs; only `create-key --admin` grants it (never a name)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # keyset pagination of one principal's jobs, newest first
        Index("ix_jobs_principal_created", "principal_id", "created_at", "id"),
        Index("ix_jobs_principal_status", "principal_id", "status"),  # the active-jobs quota
        Index("ix_jobs_status_heartbeat", "status", "heartbeat_at"),
        Index("ix_jobs_status_enqueued", "status", "enqueued_at"),
        Index("ix_jobs_sweep_status", "sweep_id", "status"),  # a sweep's trials: its counts and its releases
        Index("ix_jobs_created", "created_at", "id"),  # the admin's listing of every principal's jobs, newest first
        UniqueConstraint("principal_id", "idempotency_key", name="uq_jobs_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.queued.value)
    spec: Mapped[dict[str, Any]]
    queue: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(16), default=JobOrigin.user.value)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    # the sweep whose trial this job is (origin "sweep"); the sweep's listing and counts read it
    sweep_id: Mapped[str | None] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enqueued_at: Mapped[datetime | None]  # last time a message was sent for it
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    epochs: Mapped[int] = mapped_column(Integer)
    fold: Mapped[int] = mapped_column(Integer, default=0)
    folds: Mapped[int] = mapped_column(Integer, default=1)
    error_reason: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any] | None]
    # the job's epoch checkpoints and model file on disk, as its worker last measured them (worker/disk_usage.py)
    checkpoint_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Sweep(Base):
    """A grid (or a search) over spec fields × seeds (trainwell.sweep). Its trials wait in sweep_trials and
    become jobs as they are released; a search's configurations are sampled into sweep_trials as it has
    room for them. `result` holds the comparison once the sweep has ended (it no longer changes)."""

    __tablename__ = "sweeps"
    __table_args__ = (
        Index("ix_sweeps_principal_created", "principal_id", "created_at", "id"),
        Index("ix_sweeps_status", "status"),  # the reaper's running sweeps
        UniqueConstraint("principal_id", "idempotency_key", name="uq_sweeps_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict[str, Any]]  # the SweepRequest as sent: what an Idempotency-Key replay must match
    base: Mapped[dict[str, Any]]  # the base spec, validated
    grid: Mapped[dict[str, Any]]  # empty for a search
    search: Mapped[dict[str, Any] | None]  # the Search (trainwell.sweep), as its JSON
    seeds: Mapped[list[int]] = mapped_column(JSON)
    max_parallel: Mapped[int] = mapped_column(Integer)
    trials: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]  # the last release: its update serializes concurrent releases
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]


class SweepTrial(Base):
    """One trial of a sweep: a cell (a search's configuration index) and a seed, its spec, and its job once
    released. The primary key makes a configuration's rows once: position is cell × seeds + the seed's."""

    __tablename__ = "sweep_trials"

    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # release order: cell by cell, seed by seed
    cell: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    spec: Mapped[dict[str, Any]]
    params: Mapped[dict[str, Any] | None]  # a search's sampled configuration: dotted path → value
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))


class SweepRung(Base):
    """A trial's record at one of its sweep's ASHA rungs (core/asha.py): its metric there, and the decision
    made when it first reached the rung — kept, so that a trial resumed from a checkpoint and reaching the
    rung again reads the same decision rather than competing twice. The primary key's prefix is the index
    a decision reads: every value at (sweep, rung)."""

    __tablename__ = "sweep_rungs"

    sweep_id: Mapped[str] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True)
    rung: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    promoted: Mapped[bool] = mapped_column(Boolean)
    cutoff: Mapped[float] = mapped_column(Float)  # the worst value that went on when it was decided
    competitors: Mapped[int] = mapped_column(Integer)  # values at the rung then, its own included
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Metric(Base):
    """Metric history. The primary key is the "one job's series by name" index and makes
    a re-sent epoch (a redelivered or resumed task) an update, never a duplicate row."""

    __tablename__ = "metrics"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fold: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class LatestMetric(Base):
    """The latest value of each metric per job, kept apart from the history so that
    listing jobs never scans it (mlflow#1571)."""

    __tablename__ = "latest_metrics"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fold: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)


class Dataset(Base):
    """An uploaded dataset as one principal sees it. The file (`data_dir/datasets/<id>.npz`) is
    named by its content hash and shared; the row is per principal, so the same upload by two
    principals is two rows and one file, and neither sees the other's row."""

    __tablename__ = "datasets"
    __table_args__ = (Index("ix_datasets_principal_created", "principal_id", "created_at"),)

    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(19), primary_key=True)  # "ds_" + 16 hex digits
    name: Mapped[str | None] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(16))
    task: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer)
    columns: Mapped[list[str]] = mapped_column(JSON)
    classes: Mapped[list[str] | None] = mapped_column(JSON)
    bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceCounter(Base):
    """Counts of what workers did that an operator must see (reaper actions, metric-write
    retries). Workers expose no HTTP port, so they count here and the API's /metrics reads it."""

    __tablename__ = "service_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class JobDiagnosis(Base):
    """A job's stored diagnosis (trainwell.diagnosis.Diagnosis as JSON), kept apart from the
    job row so that reading or listing jobs never loads it. Recomputing overwrites it."""

    __tablename__ = "diagnoses"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    # indexed: the reaper looks up the diagnoses still waiting for probe jobs every few seconds
    status: Mapped[str] = mapped_column(String(16), index=True)
    verdict: Mapped[str | None] = mapped_column(String(16))
    body: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # times the reaper sent the diagnosis again because the process making it died (worker/reaper.py)
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class JobLandscape(Base):
    """A job's loss landscape (trainwell.landscape.Landscape as JSON) and its PNG contour plot, computed
    on request by a worker. Kept apart from the job and its diagnosis: the grid and the image are large."""

    __tablename__ = "landscapes"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]]
    png: Mapped[bytes | None] = mapped_column(LargeBinary)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # claims by a worker
    # stamped by the computing worker's main process while it runs (worker/reaper.py): stale means it died
    heartbeat_at: Mapped[datetime | None]


class Worker(Base):
    """A worker that consumes, as it announced itself: its queues and devices, and a heartbeat its main
    process stamps every reaper round. The API reads it to say which queues have live consumers."""

    __tablename__ = "workers"

    hostname: Mapped[str] = mapped_column(String(200), primary_key=True)
    queues: Mapped[list[str]] = mapped_column(JSON)
    devices: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class MetricRollup(Base):
    """M4 summaries of a series (core/downsample.py): per bucket of 2**level steps (bucket = step >> level),
    its point count and its first, last, minimum and maximum point, kept as points are written, so that a
    sampled read touches about as many rows as it returns whatever the history's length."""

    __tablename__ = "metric_rollups"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fold: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    first_epoch: Mapped[int] = mapped_column(Integer)
    first_step: Mapped[int] = mapped_column(Integer)
    first_value: Mapped[float] = mapped_column(Float)
    last_epoch: Mapped[int] = mapped_column(Integer)
    last_step: Mapped[int] = mapped_column(Integer)
    last_value: Mapped[float] = mapped_column(Float)
    min_epoch: Mapped[int] = mapped_column(Integer)
    min_step: Mapped[int] = mapped_column(Integer)
    min_value: Mapped[float] = mapped_column(Float)
    max_epoch: Mapped[int] = mapped_column(Integer)
    max_step: Mapped[int] = mapped_column(Integer)
    max_value: Mapped[float] = mapped_column(Float)


class ModelExport(Base):
    """A finished job's model in one download format, made once by a worker and cached beside its checkpoints.

    `requested_at` is the lease of the export in progress: a `pending` row whose worker died is older than
    the lease (store/model_exports.py), and the next request asks for it again rather than wait forever."""

    __tablename__ = "model_exports"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    # the job's principal, copied (a job never changes hands): a principal's export bytes are summed on this
    # index alone, where a join through its jobs reads every export of every principal (bench/stored_bytes.py)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # pending | ready | failed
    requested_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    etag: Mapped[str | None] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(String(500))


class Prediction(Base):
    """A succeeded job's model run on an uploaded table (`dataset_id`) or on inline rows, filled by a worker;
    the result is a file beside the job's checkpoints (store/predictions.py), so it goes with the job.

    `requested_at` is the lease of the run in progress, as a model export's is. A request sent with an
    Idempotency-Key keeps the key and its fingerprint (api/services/predictions.py): a retry must match
    the fingerprint, and the unique key makes two concurrent retries one row."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("principal_id", "idempotency_key", name="uq_predictions_idempotency"),)

    id: Mapped[str] = mapped_column(String(19), primary_key=True)  # "pr_" + 16 hex digits
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    # the job's principal, for the stored-bytes sums (store/stored_bytes.py), as a model export carries it
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str | None] = mapped_column(String(19))  # None: inline rows
    rows: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    requested_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(500))
    bytes: Mapped[int | None] = mapped_column(BigInteger)  # the result files' size, once written
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # sha256 of the request and its job: a retry's match is checked without keeping 1,000 inline rows twice
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
