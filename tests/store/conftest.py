"""The store's queries run on a migrated SQLite file and on a PostgreSQL database of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine
from store.migrate import upgrade_database
from tests.stack import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    if request.param == "sqlite":
        yield from _migrated(f"sqlite:///{tmp_path / 'store.sqlite'}")
    else:
        with postgres_database() as url:
            yield from _migrated(url)


def _migrated(url: str) -> Iterator[Session]:
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with sessionmaker(engine, expire_on_commit=False)() as session:
            yield session
    finally:
        engine.dispose()
