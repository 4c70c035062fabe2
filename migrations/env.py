"""Alembic environment: the URL comes from trainwell's settings; the schema from store.models."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context

from core.settings import get_settings
from store.db import make_engine
from store.models import Base, UTCDateTime

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # autogenerate would name store.models.UTCDateTime; migrations must not import the app's types
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    url = context.config.attributes.get("database_url") or get_settings().database_url
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    with engine.connect() as connection:
        # render_as_batch: SQLite can only ALTER a table by copying it
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True, render_item=render_item
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
