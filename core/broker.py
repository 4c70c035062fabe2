"""The broker contract shared by the API (which sends) and the worker (which consumes):
task names, declared queues, and the Celery configuration.

The API sends tasks *by name* through a Celery app built here, so it never imports
the worker or torch (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from celery import Celery
from kombu import Queue
from sqlalchemy.exc import IntegrityError, OperationalError

from core.settings import Settings, get_settings
from core.task_messages import RedisTaskSender

TRAIN_TASK = "trainwell.train"
LANDSCAPE_TASK = "trainwell.landscape"  # a finished job's loss landscape, on the queue of the job's device
DIAGNOSE_TASK = "trainwell.diagnose"  # a finished job's diagnosis again, when the process making it died
EXPORT_TASK = "trainwell.export_model"  # a succeeded job's model in a download format, on the train queue
PREDICT_TASK = "trainwell.predict"  # a succeeded job's model run on a table or inline rows, on the train queue

# device "cuda" jobs go to `gpu`, consumed only by workers on GPU hosts; "auto" and
# "cpu" jobs go to `train`, consumed by every worker. Undeclared queues are refused
# (task_create_missing_queues=False), so a typo can never strand a job.
GPU_QUEUE = "gpu"
TRAIN_QUEUE = "train"
QUEUES = (TRAIN_QUEUE, GPU_QUEUE)


def queue_for(device: str) -> str:
    return GPU_QUEUE if device == "cuda" else TRAIN_QUEUE


def celery_config(settings: Settings) -> dict[str, Any]:
    if settings.broker_url.startswith("sqla+"):
        # kombu's SQLAlchemy transport hands every transport option to create_engine,
        # so only engine arguments belong here (it has no visibility timeout, and it
        # polls every second); wait on SQLite's write lock rather than fail.
        transport_options: dict[str, Any] = {"connect_args": {"timeout": 30}}
    else:
        transport_options = {"visibility_timeout": settings.visibility_timeout}
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport_options,
        # celery#5935, #7651: the visibility timeout must be set on every Redis client
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout},
        "broker_connection_retry_on_startup": True,
        # a submit must fail fast (503) when the broker is down, not hang in retries
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.1,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "task_ignore_result": True,  # the database row is the result
        "task_queues": [Queue(name) for name in QUEUES],
        "task_default_queue": TRAIN_QUEUE,
        "task_create_missing_queues": False,
        # a killed worker's message must come back (celery#6178: acks_late alone is not enough)
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # one job at a time per worker (one worker per GPU); each job runs in a fresh
        # process forked by the pool child (worker/job_process.py)
        "worker_concurrency": 1,
        "worker_hijack_root_logger": False,
        "task_soft_time_limit": settings.max_job_seconds,
        "task_time_limit": settings.max_job_seconds + 60,
    }


@lru_cache
def producer() -> Celery:
    """A Celery app used only to send tasks (the API side)."""
    app = Celery("trainwell-api")
    app.conf.update(celery_config(get_settings()))
    return app


# Tries at declaring the queues: each lost race leaves the row the next try finds.
DECLARE_ATTEMPTS = 5


def declare_queues(app: Celery) -> None:
    """Create the SQLAlchemy transport's tables and the declared queues' rows, tolerating other processes
    doing the same at once.

    The transport creates a queue's row on its first use, guarded by a lock within one process only
    (kombu.transport.sqlalchemy Channel._get_or_create): when two processes use a queue for the first
    time together (the API's two processes, the API and the worker) one insert fails with IntegrityError,
    and the first create_all of its tables can fail the same way. Failing there, a submission was
    answered 500. Declared up front, a race is lost once, here, and the next try finds the rows.
    """
    for attempt in range(DECLARE_ATTEMPTS):
        try:
            with app.connection_for_write() as connection:  # a fresh connection: a failed session is gone with it
                channel = connection.default_channel
                for name in QUEUES:
                    channel.queue_declare(name)
            return
        except (IntegrityError, OperationalError):
            if attempt == DECLARE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


class CelerySender:
    """Sends through `Celery.send_task`: any broker (the embedded SQLAlchemy transport), the queues'
    rows declared before the first send (declare_queues)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._declared = False
        self._declaring = threading.Lock()

    def send(self, *, name: str, args: list[Any], queue: str, task_id: str | None = None) -> None:
        if not self._declared:
            with self._declaring:
                if not self._declared:
                    declare_queues(self.app)
                    self._declared = True
        self.app.send_task(name, args=args, queue=queue, task_id=task_id)

    async def send_async(self, *, name: str, args: list[Any], queue: str, task_id: str | None = None) -> None:
        # kombu is synchronous: a thread keeps the event loop free while it sends
        await asyncio.to_thread(self.send, name=name, args=args, queue=queue, task_id=task_id)


@lru_cache
def sender() -> CelerySender | RedisTaskSender:
    """Redis (production) gets the lean sender: a submission's hottest step (core/task_messages.py)."""
    url = get_settings().broker_url
    if url.startswith(("redis://", "rediss://")):
        return RedisTaskSender(producer(), url)
    return CelerySender(producer())


def enqueue_training(job_id: str, queue: str) -> None:
    sender().send(name=TRAIN_TASK, args=[job_id], queue=queue, task_id=job_id)


async def enqueue_training_async(job_id: str, queue: str) -> None:
    """enqueue_training from the event loop (the API's submission path)."""
    await sender().send_async(name=TRAIN_TASK, args=[job_id], queue=queue, task_id=job_id)


def enqueue_landscape(job_id: str, queue: str) -> None:
    sender().send(name=LANDSCAPE_TASK, args=[job_id], queue=queue, task_id=landscape_task_id(job_id))


def enqueue_diagnosis(job_id: str, queue: str) -> None:
    sender().send(name=DIAGNOSE_TASK, args=[job_id], queue=queue, task_id=diagnosis_task_id(job_id))


def enqueue_model_export(job_id: str, export_format: str) -> None:
    # the train queue, consumed by every worker: an export runs on the CPU, whatever device trained the job
    task_id = model_export_task_id(job_id, export_format)
    sender().send(name=EXPORT_TASK, args=[job_id, export_format], queue=TRAIN_QUEUE, task_id=task_id)


def enqueue_predictions(job_id: str, prediction_id: str) -> None:
    # the train queue, as an export: a prediction runs on the CPU, whatever device trained the job
    sender().send(name=PREDICT_TASK, args=[job_id, prediction_id], queue=TRAIN_QUEUE, task_id=prediction_id)


# Task ids name what they are for: a training message's is the job id, so the broker's messages can be
# matched with the rows that wait for them (held_task_ids).
def landscape_task_id(job_id: str) -> str:
    return f"{job_id}.landscape"


def diagnosis_task_id(job_id: str) -> str:
    return f"{job_id}.diagnose"


def model_export_task_id(job_id: str, export_format: str) -> str:
    return f"{job_id}.model.{export_format}"


def held_task_ids(settings: Settings) -> set[str]:
    """The ids of the task messages the broker holds now: waiting in a queue, or delivered and not acked.

    A queued row whose id is missing here lost its message (a Redis restart without persistence) and must
    be sent again; one whose id is here must not be, or the queue floods with copies (each a wasted fork).
    One read per reaper round: LRANGE of each queue and HVALS of kombu's unacked hash on Redis; on the
    embedded SQLAlchemy transport the visible rows of its message table (a delivered message stays as an
    invisible row and is never restored, so it does not count).
    """
    url = settings.broker_url
    if url.startswith(("redis://", "rediss://")):
        return _redis_task_ids(url)
    if url.startswith("sqla+"):
        return _sqlalchemy_task_ids(url.removeprefix("sqla+"))
    raise ValueError(f"cannot list the messages of broker {url.split(':', 1)[0]!r}")


# what reading a message that is not a Celery task message (protocol 2) raises: it is none of ours, skipped
NOT_OURS = (ValueError, KeyError, TypeError, IndexError)


def _redis_task_ids(url: str) -> set[str]:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        with client.pipeline(transaction=False) as pipe:
            for queue in QUEUES:
                pipe.lrange(queue, 0, -1)
            pipe.hvals("unacked")  # kombu's Redis transport: delivery tag -> [message, exchange, routing key]
            *queued, unacked = pipe.execute()
    finally:
        client.close()
    envelopes = [raw for messages in queued for raw in messages]
    delivered = []
    for raw in unacked:
        with contextlib.suppress(*NOT_OURS):
            delivered.append(json.dumps(json.loads(raw)[0]))
    return _task_ids(envelopes + delivered)


def _sqlalchemy_task_ids(url: str) -> set[str]:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("kombu_message"):
                return set()  # nothing was ever sent
            rows = connection.execute(text("SELECT payload FROM kombu_message WHERE visible"))
            return _task_ids(payload for (payload,) in rows)
    finally:
        engine.dispose()


def _task_ids(envelopes: Iterable[str | bytes]) -> set[str]:
    ids = set()
    for raw in envelopes:
        with contextlib.suppress(*NOT_OURS):
            task_id = json.loads(raw)["headers"]["id"]
            if isinstance(task_id, str):
                ids.add(task_id)
    return ids
