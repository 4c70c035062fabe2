"""The lean Redis sender pushes the message Celery's own send_task pushes, and a worker's
consumer reads it back as the same task (a kombu upgrade that changes the format fails here)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from celery import Celery
from kombu.exceptions import OperationalError

from core.broker import TRAIN_QUEUE, TRAIN_TASK, celery_config
from core.settings import Settings
from core.task_messages import RedisTaskSender
from tests.stack import free_port, redis_database


@pytest.fixture
def broker() -> Iterator[tuple[Celery, redis.Redis]]:
    with redis_database() as url:
        app = Celery("trainwell-test")
        app.conf.update(celery_config(Settings(broker_url=url)))
        client = redis.Redis.from_url(url)
        try:
            yield app, client
        finally:
            client.delete(TRAIN_QUEUE)


def test_the_envelope_is_what_send_task_pushes(broker: tuple[Celery, redis.Redis]) -> None:
    app, client = broker
    job_id = "0b6f0a54-5d0c-4d5e-9a39-2f1c1e3f6b1a"
    app.send_task(TRAIN_TASK, args=[job_id], queue=TRAIN_QUEUE, task_id=job_id)
    RedisTaskSender(app, app.conf.broker_url).send(name=TRAIN_TASK, args=[job_id], queue=TRAIN_QUEUE, task_id=job_id)
    ours, celerys = (json.loads(raw) for raw in client.lrange(TRAIN_QUEUE, 0, -1))  # LPUSH: newest first
    assert ours["properties"].pop("delivery_tag") != celerys["properties"].pop("delivery_tag")
    assert ours == celerys


def test_a_consumer_reads_the_task_back(broker: tuple[Celery, redis.Redis]) -> None:
    app, _ = broker
    RedisTaskSender(app, app.conf.broker_url).send(name=TRAIN_TASK, args=["job-1"], queue=TRAIN_QUEUE, task_id="job-1")
    with app.connection_for_read() as connection:
        message = connection.SimpleQueue(TRAIN_QUEUE, no_ack=True).get(timeout=5)
    assert message.headers["task"] == TRAIN_TASK and message.headers["id"] == "job-1"
    args, kwargs, _embed = message.decode()
    assert args == ["job-1"] and kwargs == {}


def test_a_dead_broker_is_a_broker_error() -> None:
    app = Celery("trainwell-test")
    sender = RedisTaskSender(app, f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(OperationalError):
        sender.send(name=TRAIN_TASK, args=["job-1"], queue=TRAIN_QUEUE)
