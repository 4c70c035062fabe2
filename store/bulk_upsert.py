"""Upserting many rows of one table in one statement compiled once per process.

A statement built with `.values(rows)` is compiled afresh for every batch (the cost of a metric write,
once). Here PostgreSQL gets one `INSERT … SELECT FROM unnest(arrays)`: a batch of any length is one
statement with one parameter per column, prepared once by the server; SQLite gets the cached `INSERT`
run through the driver's executemany, which loops in C over one prepared statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Float, Insert, Integer, String, TextClause, text
from sqlalchemy.orm import Session

from store.db import upsert_insert

_ARRAY_TYPES = {String: "text[]", BigInteger: "bigint[]", Integer: "integer[]", Float: "float8[]"}
_statements: dict[tuple[str, str, tuple[str, ...]], Insert | TextClause] = {}


def _array_type(column: Any) -> str:
    for kind, name in _ARRAY_TYPES.items():  # BigInteger before Integer: it is a subclass
        if isinstance(column.type, kind):
            return name
    raise TypeError(f"no array type for column {column.name} ({column.type})")


def _statement(session: Session, table: Any, updated: Sequence[str]) -> Insert | TextClause:
    dialect = session.get_bind().dialect.name
    cache_key = (dialect, table.__tablename__, tuple(updated))
    if cache_key not in _statements:
        keys = [c.name for c in table.__mapper__.primary_key]
        if dialect == "postgresql":
            columns = list(table.__table__.columns)
            names = ", ".join(c.name for c in columns)
            arrays = ", ".join(f"CAST(:{c.name} AS {_array_type(c)})" for c in columns)
            sets = ", ".join(f"{c} = excluded.{c}" for c in updated)
            _statements[cache_key] = text(
                f"INSERT INTO {table.__tablename__} ({names}) SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
            )
        else:
            statement = upsert_insert(session, table)
            _statements[cache_key] = statement.on_conflict_do_update(
                index_elements=keys, set_={c: statement.excluded[c] for c in updated}
            )
    return _statements[cache_key]


def upsert_rows(*, session: Session, table: Any, rows: list[dict[str, Any]], updated: Sequence[str]) -> None:
    """Insert `rows` (dicts of every column of `table`, distinct keys), updating `updated` where the key exists."""
    if not rows:
        return
    statement = _statement(session, table, updated)
    if isinstance(statement, TextClause):
        session.connection().execute(
            statement, {c.name: [row[c.name] for row in rows] for c in table.__table__.columns}
        )
    else:
        session.connection().execute(statement, rows)  # Core: the ORM's bulk path adds a third
