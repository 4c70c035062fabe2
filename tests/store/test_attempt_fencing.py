"""A running job's writes are fenced by its attempt; an accepted cancel wins over success; a resumed
attempt's large re-send fits the databases' parameter limits. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import jobs as job_store
from store.diagnoses import get_diagnosis, save_attempt_diagnosis
from store.metrics import MetricRow, record_metrics
from store.models import Metric
from store.principals import get_or_create_principal
from trainer.diagnose import not_applicable
from trainwell.job import JobStatus
from trainwell.spec import JobSpec


def _claimed(session: Session, times: int = 1) -> str:
    """A job claimed `times` times (requeued in between), so its newest attempt is `times`."""
    owner = get_or_create_principal(session=session, name="owner")
    spec = JobSpec.model_validate({"dataset": {"name": "iris"}, "epochs": 2})
    job = job_store.create_job(session=session, principal_id=owner.id, spec=spec, queue="train")
    for _ in range(times):
        assert job_store.claim_job(session=session, job_id=job.id, worker="w")
        session.commit()
        if _ < times - 1:
            stored = job_store.get_job(session=session, job_id=job.id, principal_id=None)
            assert stored is not None
            stored.status = JobStatus.queued.value  # as the reaper requeues it
            session.commit()
    return job.id


def test_a_superseded_attempt_writes_nothing(session: Session) -> None:
    job_id = _claimed(session, times=2)
    progress = {"epoch": 1, "fold": 0, "folds": 1, "epochs": 2}
    assert job_store.heartbeat(session=session, job_id=job_id, attempt=1) is None
    assert not job_store.set_progress(session=session, job_id=job_id, attempt=1, **progress)
    assert job_store.finish_job(session=session, job_id=job_id, attempt=1, status=JobStatus.succeeded) is None
    assert not save_attempt_diagnosis(session=session, job_id=job_id, attempt=1, diagnosis=not_applicable("stale"))
    session.commit()

    assert job_store.heartbeat(session=session, job_id=job_id, attempt=2) is JobStatus.running
    assert job_store.set_progress(session=session, job_id=job_id, attempt=2, **progress)
    assert job_store.finish_job(session=session, job_id=job_id, attempt=2, status=JobStatus.succeeded) is (
        JobStatus.succeeded
    )
    assert save_attempt_diagnosis(session=session, job_id=job_id, attempt=2, diagnosis=not_applicable("first"))
    assert save_attempt_diagnosis(session=session, job_id=job_id, attempt=2, diagnosis=not_applicable("again"))
    session.commit()
    diagnosis = get_diagnosis(session=session, job_id=job_id)
    assert diagnosis is not None and "again" in diagnosis.summary
    assert job_store.heartbeat(session=session, job_id=job_id, attempt=2) is None  # final: nothing to stamp


def test_a_cancel_accepted_while_running_wins_over_success(session: Session) -> None:
    job_id = _claimed(session)
    job = job_store.get_job(session=session, job_id=job_id, principal_id=None)
    assert job is not None
    job_store.request_cancel(session=session, job=job)
    session.commit()
    summary = {"epochs_run": 2}
    final = job_store.finish_job(session=session, job_id=job_id, attempt=1, status=JobStatus.succeeded, summary=summary)
    session.commit()
    assert final is JobStatus.cancelled
    job = job_store.get_job(session=session, job_id=job_id, principal_id=None)
    assert job is not None and job.status == "cancelled" and job.summary == summary


def test_a_large_resend_is_written_whole(session: Session) -> None:
    job_id = _claimed(session)
    rows = [MetricRow(name, 0, epoch, epoch, float(epoch)) for epoch in range(1, 1201) for name in ("train_loss", "lr")]
    rows += [MetricRow("step_loss", 0, epoch, step, 1.0) for epoch in range(1, 1201) for step in range(3)]
    # 6000 rows of six parameters: past SQLite's 32766 bound parameters in one statement
    record_metrics(session=session, job_id=job_id, rows=rows)
    record_metrics(session=session, job_id=job_id, rows=rows)  # re-sent: overwrites, never doubles
    session.commit()
    count = session.scalar(select(func.count()).select_from(Metric).where(Metric.job_id == job_id))
    assert count == len(rows)
