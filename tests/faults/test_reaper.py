"""The reaper's policy on a migrated database: what happens to each kind of stale or waiting job, once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.settings import Settings
from store import jobs as job_store
from store.counters import read_counters
from store.diagnoses import get_diagnosis
from store.models import Job, utcnow
from store.principals import get_or_create_principal
from tests.stack import migrated_session
from trainwell.diagnosis import DiagnosisStatus
from trainwell.job import JobStatus
from trainwell.spec import JobSpec
from worker.reaper import Requeue, reap

SETTINGS = Settings(lease_seconds=30, max_attempts=3, requeue_after_seconds=300)
STALE = timedelta(seconds=60)  # older than the lease
LONG_QUEUED = timedelta(seconds=600)  # longer than requeue_after_seconds


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    yield from migrated_session(f"sqlite:///{tmp_path / 'store.sqlite'}")


def _job(session: Session, *, status: JobStatus, age: timedelta, attempt: int = 1) -> str:
    """A job in `status` whose heartbeat (running, cancelling) or last send (queued) is `age` old."""
    owner = get_or_create_principal(session=session, name="owner")
    spec = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 2})
    job = job_store.create_job(session=session, principal_id=owner.id, spec=spec, queue="train")
    when = utcnow() - age
    if status is JobStatus.queued:
        values: dict[str, object] = {"enqueued_at": when}
    else:
        values = {"status": status.value, "heartbeat_at": when, "started_at": when, "attempt": attempt, "worker": "w"}
    session.execute(update(Job).where(Job.id == job.id).values(**values))
    session.commit()
    return job.id


def test_each_stale_job_is_requeued_failed_or_cancelled_and_a_lost_message_resent(session: Session) -> None:
    requeued = _job(session, status=JobStatus.running, age=STALE, attempt=1)
    spent = _job(session, status=JobStatus.running, age=STALE, attempt=3)
    cancelling = _job(session, status=JobStatus.cancelling, age=STALE)
    alive = _job(session, status=JobStatus.running, age=timedelta(seconds=1))
    lost_message = _job(session, status=JobStatus.queued, age=LONG_QUEUED)
    fresh_message = _job(session, status=JobStatus.queued, age=timedelta(seconds=1))

    report = reap(session=session, now=utcnow(), settings=SETTINGS)
    session.commit()
    assert report.requeued == [Requeue(requeued, "train")] and report.resent == [Requeue(lost_message, "train")]
    assert report.failed == [spent] and report.cancelled == [cancelling]

    def row(job_id: str) -> Job:
        job = job_store.get_job(session=session, job_id=job_id, principal_id=None)
        assert job is not None
        return job

    assert row(requeued).status == JobStatus.queued and row(requeued).worker is None
    assert row(requeued).heartbeat_at is None
    failed = row(spent)
    assert failed.status == JobStatus.failed and failed.error_reason == "worker_lost" and failed.finished_at
    assert failed.error_message == "the worker stopped heartbeating on each of 3 attempts"
    assert row(cancelling).status == JobStatus.cancelled and row(cancelling).finished_at
    assert row(alive).status == JobStatus.running and row(fresh_message).status == JobStatus.queued
    for ended in (spent, cancelling):  # no job process will diagnose them: their final diagnosis is stored now
        diagnosis = get_diagnosis(session=session, job_id=ended)
        assert diagnosis is not None and diagnosis.status == DiagnosisStatus.not_applicable
        assert diagnosis.verdict is None and diagnosis.summary
    assert get_diagnosis(session=session, job_id=requeued) is None  # it runs again, and is diagnosed then
    counters = read_counters(session=session)
    assert [counters[f"reaper_{name}"] for name in ("requeued", "failed", "cancelled", "resent")] == [1, 1, 1, 1]

    again = reap(session=session, now=utcnow(), settings=SETTINGS)  # a second worker's round: nothing left
    assert again.requeued == again.failed == again.cancelled == again.resent == []
