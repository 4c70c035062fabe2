"""Live-event hints: a message on a job's Redis channel that says "look now".

The database stays the truth. A hint only wakes a reader, which then re-reads the rows
(store/events.py), so a missed, late or duplicated message loses nothing. In embedded mode
there is no Redis and readers simply poll.
"""

from __future__ import annotations

import logging
import os
import time

import redis

from core.settings import get_settings

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "trainwell:job:"
# After a failed publish, training goes on without hints for this long rather than paying
# a connect timeout every epoch while Redis is down; readers fall back to polling meanwhile.
PUBLISH_BACKOFF_SECONDS = 10.0


def job_channel(job_id: str) -> str:
    return f"{CHANNEL_PREFIX}{job_id}"


def uses_redis(broker_url: str) -> bool:
    return broker_url.startswith(("redis://", "rediss://"))


_publishers: dict[tuple[int, str], redis.Redis] = {}
_publish_paused_until = 0.0


def publish_job_changed(job_id: str, what: str) -> None:
    """Tell live readers of this job to look now. Never raises: a lost hint only delays them
    until their next fallback read, and must never fail a training run."""
    global _publish_paused_until
    url = get_settings().broker_url
    if not uses_redis(url) or time.monotonic() < _publish_paused_until:
        return
    # one client per process: a forked Celery child must not reuse its parent's socket
    key = (os.getpid(), url)
    try:
        client = _publishers.get(key)
        if client is None:
            client = _publishers[key] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        client.publish(job_channel(job_id), what)
    except redis.RedisError as exc:
        _publish_paused_until = time.monotonic() + PUBLISH_BACKOFF_SECONDS
        log.warning("job %s: could not publish a live-event hint (%s); readers fall back to polling", job_id, exc)
