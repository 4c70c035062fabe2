"""Processes that use the embedded broker for the first time at the same moment all get their messages
through: kombu's SQLAlchemy transport creates a queue's row on first use under an in-process lock only,
so two API processes' first submissions raced and one was answered 500 (IntegrityError on kombu_queue)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from celery import Celery

from core.broker import GPU_QUEUE, TRAIN_QUEUE, TRAIN_TASK, CelerySender, celery_config, held_task_ids
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, THREADS, ROUNDS, ROUND_SECONDS = 4, 4, 20, 0.4

# Each process takes part in every round: a fresh broker whose train queue nobody has used yet, which
# all the processes start sending to at the same wall-clock instant, from several threads each (as the
# API's sends run in threads).
SENDER = """
import os, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from celery import Celery
from core.broker import TRAIN_QUEUE, TRAIN_TASK, CelerySender, celery_config
from core.settings import Settings

root, start, rounds, every, threads = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
for round_ in range(rounds):
    app = Celery("first-send")
    app.conf.update(celery_config(Settings(data_dir=root / f"round-{round_}")))
    sender = CelerySender(app)
    time.sleep(max(0.0, start + round_ * every - time.time()))
    with ThreadPoolExecutor(threads) as pool:
        sent = [pool.submit(sender.send, name=TRAIN_TASK, args=["job"], queue=TRAIN_QUEUE,
                            task_id=f"{os.getpid()}-{n}") for n in range(threads)]
        for one in sent:
            one.result()
"""


def broker_in_use(data_dir: Path) -> Settings:
    """A broker whose tables exist (a cuda job was sent): what is left to race is the train queue's row."""
    data_dir.mkdir()
    settings = Settings(data_dir=data_dir)
    app = Celery("first-send")
    app.conf.update(celery_config(settings))
    CelerySender(app).send(name=TRAIN_TASK, args=["job"], queue=GPU_QUEUE, task_id="cuda-job")
    return settings


def test_processes_sending_their_first_messages_at_once_all_get_them_through(tmp_path: Path) -> None:
    brokers = [broker_in_use(tmp_path / f"round-{round_}") for round_ in range(ROUNDS)]
    for settings in brokers:  # the fixed sender declares every queue: undo that for the train queue
        with Celery("first-send", broker=settings.broker_url).connection_for_write() as connection:
            connection.default_channel.session.execute(
                connection.default_channel.queue_cls.__table__.delete().where(
                    connection.default_channel.queue_cls.name == TRAIN_QUEUE
                )
            )
            connection.default_channel.session.commit()
    start = time.time() + 8  # every process imported by then, even on a loaded machine
    command = [sys.executable, "-c", SENDER, str(tmp_path), str(start), str(ROUNDS), str(ROUND_SECONDS), str(THREADS)]
    senders = [subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    errors = [sender.communicate(timeout=120)[1] for sender in senders]
    assert [sender.returncode for sender in senders] == [0] * PROCESSES, "\n".join(errors)[-3000:]
    for settings in brokers:
        assert len(held_task_ids(settings)) == 1 + PROCESSES * THREADS
