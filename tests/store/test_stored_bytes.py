"""A principal's stored bytes are sums over the rows that record its files: an upload, a job's checkpoints,
a ready export made on request. Deleting the rows frees them; another principal's rows are not counted.
On SQLite and PostgreSQL, through the migration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.orm import Session

from store import jobs as job_store
from store.datasets import create_dataset
from store.db import make_engine
from store.job_removal import delete_jobs
from store.migrate import ALEMBIC_INI
from store.model_exports import finish_export, request_export
from store.predictions import create_prediction, finish_prediction
from store.principals import get_or_create_principal
from store.stored_bytes import record_checkpoint_bytes, stored_bytes, total_stored_bytes
from tests.stack import empty_database
from trainwell.spec import JobSpec
from uploads import NormalizedDataset

NOTHING = {"uploads": 0, "checkpoints": 0, "exports": 0, "predictions": 0}


def _dataset(ident: str) -> NormalizedDataset:
    return NormalizedDataset(
        id=ident,
        X=np.zeros((4, 2), dtype=np.float32),
        y=np.zeros(4, dtype=np.int64),
        task="classification",
        columns=["a", "b"],
        target="label",
        classes=["no", "yes"],
    )


def test_each_kind_is_counted_for_its_principal_and_freed_with_its_rows(session: Session) -> None:
    owner = get_or_create_principal(session=session, name="owner")
    other = get_or_create_principal(session=session, name="other")
    session.commit()
    assert stored_bytes(session=session, principal_id=owner.id) == NOTHING

    create_dataset(
        session=session, principal_id=owner.id, dataset=_dataset("ds_00000000000000a1"), name="a", fmt="csv", size=700
    )
    # the same content uploaded by another principal: one file, counted for each
    create_dataset(
        session=session, principal_id=other.id, dataset=_dataset("ds_00000000000000a1"), name="a", fmt="csv", size=700
    )
    spec = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 2})
    job = job_store.create_job(session=session, principal_id=owner.id, spec=spec, queue="train")
    session.flush()
    assert job_store.claim_job(session=session, job_id=job.id, worker="w")  # attempt 1
    assert job_store.set_progress(
        session=session, job_id=job.id, attempt=1, epoch=1, fold=0, folds=1, epochs=2, checkpoint_bytes=5000
    )
    for fmt, size in (("onnx", 300), ("pt2", 400), ("safetensors", 900)):
        request_export(session=session, job_id=job.id, principal_id=owner.id, export_format=fmt, file_exists=False)
        finish_export(session=session, job_id=job.id, export_format=fmt, size=size, etag='"e"', error=None)
    request_export(
        session=session, job_id=job.id, principal_id=owner.id, export_format="onnx", file_exists=True
    )  # ready: unchanged
    for name, size in (("pr_0000000000000001", 250), ("pr_0000000000000002", None)):  # written, and pending
        create_prediction(
            session=session, prediction_id=name, job_id=job.id, principal_id=owner.id, dataset_id=None, rows=3
        )
        if size is not None:
            finish_prediction(session=session, prediction_id=name, error=None, size=size)
    session.commit()

    # the safetensors download is the model file, counted in the checkpoints already
    mine = {"uploads": 700, "checkpoints": 5000, "exports": 700, "predictions": 250}
    assert stored_bytes(session=session, principal_id=owner.id) == mine
    assert stored_bytes(session=session, principal_id=other.id) == {**NOTHING, "uploads": 700}
    assert total_stored_bytes(session=session) == {**mine, "uploads": 1400}

    # pruned once finished: the attempt that holds the job records the smaller size; a stale attempt cannot
    record_checkpoint_bytes(session=session, job_id=job.id, attempt=1, size=1200)
    record_checkpoint_bytes(session=session, job_id=job.id, attempt=7, size=99)
    session.commit()
    assert stored_bytes(session=session, principal_id=owner.id)["checkpoints"] == 1200

    delete_jobs(session=session, job_ids=[job.id])  # its exports and predictions go with it (ON DELETE CASCADE)
    session.commit()
    assert stored_bytes(session=session, principal_id=owner.id) == {**NOTHING, "uploads": 700}


def test_a_failed_or_pending_export_stores_nothing(session: Session) -> None:
    owner = get_or_create_principal(session=session, name="owner")
    spec = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 2})
    job = job_store.create_job(session=session, principal_id=owner.id, spec=spec, queue="train")
    session.flush()
    request_export(session=session, job_id=job.id, principal_id=owner.id, export_format="onnx", file_exists=False)
    request_export(session=session, job_id=job.id, principal_id=owner.id, export_format="pt2", file_exists=False)
    finish_export(session=session, job_id=job.id, export_format="pt2", size=None, etag=None, error="no graph")
    session.commit()
    assert stored_bytes(session=session, principal_id=owner.id) == NOTHING


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migration_gives_stored_exports_their_principal(kind: str, tmp_path: Path) -> None:
    """Exports made before the migration are counted for their job's principal; jobs start at 0 bytes."""
    with empty_database(kind, tmp_path) as url:
        config = Config(str(ALEMBIC_INI))
        config.attributes["database_url"] = url
        command.upgrade(config, "0015")
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                for name in ("first", "owner"):
                    connection.execute(
                        text("INSERT INTO principals (name, created_at) VALUES (:n, '2026-01-01')"), {"n": name}
                    )
                owner = connection.scalar(text("SELECT id FROM principals WHERE name = 'owner'"))
                connection.execute(
                    text(
                        "INSERT INTO jobs (id, principal_id, status, spec, queue, origin, created_at, attempt, epoch,"
                        " epochs, fold, folds) VALUES ('j1', :p, 'succeeded', '{}', 'cpu', 'user', '2026-01-01', 1,"
                        " 0, 1, 0, 1)"
                    ),
                    {"p": owner},
                )
                connection.execute(
                    text(
                        "INSERT INTO model_exports (job_id, format, status, requested_at, bytes)"
                        " VALUES ('j1', 'onnx', 'ready', '2026-01-01', 321)"
                    )
                )
            command.upgrade(config, "head")
            with Session(engine) as session:
                assert stored_bytes(session=session, principal_id=owner) == {**NOTHING, "exports": 321}
        finally:
            engine.dispose()
