"""The worker's Celery app: `celery -A worker.celery_app worker --queues gpu,train`.

The configuration is the shared one in core.broker, so sender and consumer agree on
queues, acks and timeouts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import worker_init, worker_ready, worker_shutdown
from kombu.transport import sqlalchemy as sqlalchemy_transport

from core.broker import celery_config, declare_queues
from core.settings import get_settings

if TYPE_CHECKING:
    from worker.presence import Presence

if get_settings().broker_url.startswith("sqla+"):
    # kombu's virtual transports sleep `polling_interval` (1 s) whenever they cannot take a message,
    # and with prefetch 1 that is also between one task's ack and the next fetch: at the default an
    # embedded worker takes one message a second, and a backlog of cancelled jobs' messages delays
    # the next job by a second each. The option cannot go through broker_transport_options, which the SQLAlchemy
    # transport hands to create_engine.
    sqlalchemy_transport.Transport.polling_interval = 0.1

app = Celery(
    "trainwell",
    include=[
        "worker.tasks",
        "worker.landscape",
        "worker.rediagnosis",
        "worker.logs",
        "worker.model_export",
        "worker.predictions",
    ],
)
app.conf.update(celery_config(get_settings()))


_presence: list[Presence] = []


@worker_init.connect
def _on_worker_init(**_: Any) -> None:
    # before the consumer declares its queues: the embedded transport's first use of a queue races the
    # API's (core.broker.declare_queues)
    if get_settings().broker_url.startswith("sqla+"):
        declare_queues(app)


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    # worker_ready fires in the main process only, after the pool has forked
    from worker.presence import start_presence
    from worker.reaper import start_reaper

    settings = get_settings()
    start_reaper(settings)
    queues = sorted(queue.name for queue in sender.task_consumer.queues) if sender is not None else []
    _presence.append(start_presence(settings, hostname=sender.hostname if sender else "worker", queues=queues))
    if settings.worker_ready_file is not None:
        settings.worker_ready_file.touch()


@worker_shutdown.connect
def _on_worker_shutdown(**_: Any) -> None:
    for presence in _presence:  # a worker that stops cleanly leaves the list at once
        presence.end()
