"""The reaper and runs from the user's own loop: an old heartbeat is no lost worker; a finished run whose
diagnosis message was lost gets it sent again, like any final job's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core.settings import Settings
from store import runs as run_store
from store.models import Job, utcnow
from store.principals import get_or_create_principal
from tests.stack import migrated_session
from trainwell.job import JobStatus
from trainwell.run import RunSpec
from worker.reaper import Requeue, reap

SETTINGS = Settings(lease_seconds=30, max_attempts=3, requeue_after_seconds=300)
HOUR = timedelta(hours=1)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    yield from migrated_session(f"sqlite:///{tmp_path / 'store.sqlite'}")


def _run(session: Session, *, heard_from: timedelta) -> str:
    owner = get_or_create_principal(session=session, name="owner")
    row = run_store.new_run(principal_id=owner.id, spec=RunSpec(task="regression"), queue="train")
    session.execute(insert(Job).values(**row))
    when = utcnow() - heard_from
    session.execute(update(Job).where(Job.id == row["id"]).values(started_at=when, heartbeat_at=when))
    session.commit()
    return str(row["id"])


def test_a_quiet_external_run_stays_running(session: Session) -> None:
    run_id = _run(session, heard_from=HOUR)
    report = reap(session=session, now=utcnow(), settings=SETTINGS)
    session.commit()
    assert not report.requeued and not report.failed
    assert session.scalar(select(Job.status).where(Job.id == run_id)) == JobStatus.running.value


def test_a_finished_runs_lost_diagnosis_is_sent_again(session: Session) -> None:
    run_id = _run(session, heard_from=HOUR)
    assert run_store.finish_run(session=session, run_id=run_id) is JobStatus.succeeded
    session.execute(update(Job).where(Job.id == run_id).values(heartbeat_at=utcnow() - timedelta(seconds=60)))
    session.commit()
    report = reap(session=session, now=utcnow(), settings=SETTINGS)
    session.commit()
    assert report.rediagnosed == [Requeue(run_id, "train")]
