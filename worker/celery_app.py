"""The worker's Celery app: `celery -A worker.celery_app worker --queues gpu,train`.

The configuration is the shared one in core.broker, so sender and consumer agree on
queues, acks and timeouts.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_ready

from core.broker import celery_config
from core.settings import get_settings

app = Celery("trainwell", include=["worker.tasks", "worker.landscape", "worker.logs"])
app.conf.update(celery_config(get_settings()))


@worker_ready.connect
def _on_worker_ready(**_: Any) -> None:
    # worker_ready fires in the main process only, after the pool has forked
    from worker.reaper import start_reaper

    settings = get_settings()
    start_reaper(settings)
    if settings.worker_ready_file is not None:
        settings.worker_ready_file.touch()
