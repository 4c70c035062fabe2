"""The reaper's view of the broker (core.broker.held_task_ids): the task ids of the messages waiting in a
queue or delivered and not acked, on Redis and on the embedded SQLAlchemy transport alike."""

from __future__ import annotations

from pathlib import Path

from celery import Celery

from core.broker import TRAIN_QUEUE, TRAIN_TASK, CelerySender, celery_config, held_task_ids
from core.settings import Settings
from core.task_messages import RedisTaskSender
from tests.stack import redis_database


def _app(settings: Settings) -> Celery:
    app = Celery("held-test")
    app.conf.update(celery_config(settings))
    return app


def test_the_embedded_transport_lists_waiting_messages_and_not_delivered_ones(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert held_task_ids(settings) == set()  # nothing sent yet: no table
    app = _app(settings)
    sender = CelerySender(app)
    for job_id in ("job-1", "job-2"):
        sender.send(name=TRAIN_TASK, args=[job_id], queue=TRAIN_QUEUE, task_id=job_id)
    assert held_task_ids(settings) == {"job-1", "job-2"}
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(TRAIN_QUEUE)
        message = queue.get(timeout=5)  # delivered: the transport keeps it as an invisible row
        message.ack()
        queue.close()
    assert len(held_task_ids(settings)) == 1


def test_redis_lists_queued_and_unacked_messages() -> None:
    with redis_database() as url:
        settings = Settings(mode="production", database_url="sqlite://", broker_url=url)
        app = _app(settings)
        RedisTaskSender(app, url).send(name=TRAIN_TASK, args=["job-1"], queue=TRAIN_QUEUE, task_id="job-1")
        assert held_task_ids(settings) == {"job-1"}
        with app.connection_for_read() as connection:
            queue = connection.SimpleQueue(TRAIN_QUEUE, no_ack=False)
            message = queue.get(timeout=5)  # delivered, not acked: in kombu's unacked hash
            assert held_task_ids(settings) == {"job-1"}
            message.ack()
            queue.close()
        assert held_task_ids(settings) == set()
