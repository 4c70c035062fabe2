"""Task messages sent straight to Redis: the bytes Celery and kombu would push, in one LPUSH.

`Celery.send_task` spends most of its CPU outside the one LPUSH it makes: kombu's Redis channel
builds a new `redis.Redis` client (and its response-callback table) for every message, and the
publish goes through Celery's signals, producer pool and retry wrapper (profiled with
bench/service.py; BENCHMARKS.md). A submission is the service's hottest write, so it skips them.
The message itself is still Celery's own: its headers, properties and body come from
`app.amqp.create_task_message` (task protocol 2), and the envelope is kombu's Redis-transport
format (kombu/transport/virtual/base.py `prepare_message`, `_inplace_augment_message`;
kombu/transport/redis.py `_put`). tests/core/test_task_messages.py checks that envelope against
what `send_task` pushes, so a kombu upgrade that changes it fails CI.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from celery import Celery
from kombu.exceptions import OperationalError
from kombu.utils.json import dumps
from redis.backoff import ExponentialBackoff


def redis_envelope(app: Celery, *, name: str, args: list[Any], queue: str, task_id: str) -> str:
    """The JSON kombu's Redis transport stores for a task sent to `queue` (no priorities, direct routing)."""
    # the arguments send_task gives it for a task sent by name with no options
    message = app.amqp.create_task_message(task_id, name, args, {}, reply_to=app.thread_oid, ignore_result=None)
    body = base64.b64encode(dumps(message.body).encode()).decode()
    properties = {
        **message.properties,  # correlation_id, reply_to
        "delivery_mode": 2,  # persistent, as Celery's queues declare
        "delivery_info": {"exchange": "", "routing_key": queue},
        "priority": 0,
        "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),  # the key the consumer acks by
    }
    envelope = {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": message.headers,
        "properties": properties,
    }
    return dumps(envelope)


class RedisTaskSender:
    """Sends tasks to the Redis broker at `url` through pooled clients: `send` from any thread (fork-safe),
    `send_async` from the event loop that first used it (the API process's)."""

    def __init__(self, app: Celery, url: str) -> None:
        self.app = app
        self.url = url

    # A dead broker must fail the submit quickly (503 broker_unavailable), not hang it. A pooled
    # connection that died (Redis restarted since it was opened) fails its next command, and the
    # first submission after a restart would get a 503: redis-py reconnects and sends again on a
    # ConnectionError or TimeoutError, twice at most, 0.1 s and 0.2 s apart, as Celery's
    # task_publish_retry_policy here (its own default backs off for seconds). An LPUSH sent again
    # after its reply was lost may queue the task twice: harmless, the claim lets one delivery train.
    _TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5}
    _RETRIES = 2

    @staticmethod
    def _backoff() -> ExponentialBackoff:
        return ExponentialBackoff(cap=0.5, base=0.1)

    @cached_property
    def client(self) -> redis.Redis:
        retry = redis.retry.Retry(self._backoff(), retries=self._RETRIES)
        return redis.Redis.from_url(self.url, retry=retry, **self._TIMEOUTS)

    @cached_property
    def async_client(self) -> redis.asyncio.Redis:
        # the asyncio client needs asyncio's Retry: given the synchronous one, it awaits the command
        # outside the retry loop, so a dead pooled connection fails the submission instead of retrying
        retry = redis.asyncio.retry.Retry(self._backoff(), retries=self._RETRIES)
        return redis.asyncio.Redis.from_url(self.url, retry=retry, **self._TIMEOUTS)

    def send(self, *, name: str, args: list[Any], queue: str, task_id: str | None = None) -> None:
        with _broker_errors():
            self.client.lpush(queue, self._envelope(name, args, queue, task_id))

    async def send_async(self, *, name: str, args: list[Any], queue: str, task_id: str | None = None) -> None:
        with _broker_errors():
            await self.async_client.lpush(queue, self._envelope(name, args, queue, task_id))

    def _envelope(self, name: str, args: list[Any], queue: str, task_id: str | None) -> str:
        return redis_envelope(self.app, name=name, args=args, queue=queue, task_id=task_id or str(uuid.uuid4()))


@contextmanager
def _broker_errors() -> Iterator[None]:
    """redis-py's errors as kombu's OperationalError, which the API answers with 503 broker_unavailable."""
    try:
        yield
    except redis.RedisError as error:
        raise OperationalError(f"broker unavailable: {error}") from error
