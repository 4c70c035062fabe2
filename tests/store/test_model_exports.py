"""An export in progress is a lease: a worker that died with it leaves a row the next request sends again.
On SQLite and PostgreSQL, through the migration."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from store import jobs as job_store
from store.model_exports import EXPORT_LEASE_SECONDS, finish_export, request_export
from store.models import ModelExport
from store.principals import get_or_create_principal
from trainwell.spec import JobSpec


def owner_id(session: Session, job_id: str) -> int:
    job = job_store.get_job(session=session, job_id=job_id, principal_id=None)
    assert job is not None
    return job.principal_id


def _job(session: Session) -> str:
    owner = get_or_create_principal(session=session, name="owner")
    spec = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 2})
    job = job_store.create_job(session=session, principal_id=owner.id, spec=spec, queue="train")
    session.commit()
    return job.id


def test_an_export_is_sent_once_and_again_only_when_its_worker_was_lost(session: Session) -> None:
    job_id = _job(session)
    row, send = request_export(
        session=session, job_id=job_id, principal_id=owner_id(session, job_id), export_format="onnx", file_exists=False
    )
    session.commit()
    assert send and row.status == "pending"
    assert (
        request_export(
            session=session,
            job_id=job_id,
            principal_id=owner_id(session, job_id),
            export_format="onnx",
            file_exists=False,
        )[1]
        is False
    )
    assert (
        request_export(
            session=session,
            job_id=job_id,
            principal_id=owner_id(session, job_id),
            export_format="pt2",
            file_exists=False,
        )[1]
        is True
    )

    # the worker died: nothing finished the row, and its lease ran out
    stale = session.get(ModelExport, (job_id, "onnx"))
    assert stale is not None
    stale.requested_at -= timedelta(seconds=EXPORT_LEASE_SECONDS + 1)
    session.commit()
    row, send = request_export(
        session=session, job_id=job_id, principal_id=owner_id(session, job_id), export_format="onnx", file_exists=False
    )
    session.commit()
    assert send and row.status == "pending"

    finish_export(session=session, job_id=job_id, export_format="onnx", size=10, etag='"abc"', error=None)
    session.commit()
    session.expire_all()
    row, send = request_export(
        session=session, job_id=job_id, principal_id=owner_id(session, job_id), export_format="onnx", file_exists=True
    )
    assert not send and row.status == "ready" and row.etag == '"abc"' and row.bytes == 10
    # an operator removed the cached file: it is made again
    assert (
        request_export(
            session=session,
            job_id=job_id,
            principal_id=owner_id(session, job_id),
            export_format="onnx",
            file_exists=False,
        )[1]
        is True
    )


def test_a_failed_export_says_why_then_is_tried_again(session: Session) -> None:
    job_id = _job(session)
    request_export(
        session=session, job_id=job_id, principal_id=owner_id(session, job_id), export_format="onnx", file_exists=False
    )
    finish_export(session=session, job_id=job_id, export_format="onnx", size=None, etag=None, error="no graph")
    session.commit()
    session.expire_all()
    row, send = request_export(
        session=session, job_id=job_id, principal_id=owner_id(session, job_id), export_format="onnx", file_exists=False
    )
    assert not send and row.status == "failed" and row.error == "no graph"
    row.finished_at -= timedelta(seconds=EXPORT_LEASE_SECONDS + 1)
    session.commit()
    row, send = request_export(
        session=session, job_id=job_id, principal_id=owner_id(session, job_id), export_format="onnx", file_exists=False
    )
    assert send and row.status == "pending" and row.error is None
