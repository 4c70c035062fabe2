"""The first submission after a Redis restart is accepted: the API's pooled broker connection died
with the old server, and the send is tried again on a fresh connection instead of answering 503
(`Error UNKNOWN while writing to socket`). The test starts a Redis server of its own (own port, temp
dir); the shared one is never touched."""

from __future__ import annotations

from pathlib import Path

import redis

from core.broker import TRAIN_QUEUE
from tests.servers import redis_server
from tests.stack import make_services, new_key, postgres_database

TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 1}


def test_the_first_submission_after_a_redis_restart_is_accepted(tmp_path: Path) -> None:
    with postgres_database() as database_url, redis_server(tmp_path) as broker:
        # one API process, so both submissions go through the one pooled connection
        services = make_services(tmp_path, database_url=database_url, broker_url=broker.url)
        try:
            services.start_api()
            key = new_key(database_url, "redis-restart-tester")
            with services.client(key) as client:
                before = client.post("/v1/jobs", json=TINY)
                assert before.status_code == 201, before.text

                broker.stop()  # the API's pooled connection now leads nowhere
                broker.start()

                after = client.post("/v1/jobs", json=TINY)
                assert after.status_code == 201, after.text
                queued = redis.Redis.from_url(broker.url).lrange(TRAIN_QUEUE, 0, -1)
                assert len(queued) == 1 and after.json()["id"].encode() in queued[0], "its task is on the new server"
        finally:
            services.stop()
