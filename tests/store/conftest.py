"""The store's queries run on a migrated SQLite file and on a PostgreSQL database of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.stack import migrated_session, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    if request.param == "sqlite":
        yield from migrated_session(f"sqlite:///{tmp_path / 'store.sqlite'}")
    else:
        with postgres_database() as url:
            yield from migrated_session(url)
