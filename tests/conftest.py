"""Fixtures shared by the test packages. Service tests use the `stack` fixture: the real
`make run` process tree, once on embedded SQLite, once on PostgreSQL + Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import Stack, postgres_database, redis_database, start_stack, stop_stack


@pytest.fixture(scope="session", params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp(f"stack-{request.param}")
    if request.param == "embedded":
        running = start_stack(tmp)
        running.keys["alice"] = (running.data_dir / "api_key").read_text().strip()
        yield from _serve(running)
    else:
        with postgres_database() as database_url, redis_database() as broker_url:
            running = start_stack(tmp, database_url=database_url, broker_url=broker_url)
            running.keys["alice"] = running.new_key("alice")
            yield from _serve(running)


def _serve(running: Stack) -> Iterator[Stack]:
    running.keys["bob"] = running.new_key("bob")
    try:
        yield running
    finally:
        code = stop_stack(running)
        print(running.log()[-3000:])
        assert code == 0, f"the stack exited with {code}"
