"""The settings refuse a half production configuration: without its database and broker URLs,
production mode would fall back to embedded mode's SQLite files and keep its jobs on one machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings

DATABASE_URL = "postgresql+psycopg://trainwell:s3cret-password@db.invalid/trainwell"
BROKER_URL = "redis://broker.invalid:6379/0"


@pytest.fixture(autouse=True)
def no_trainwell_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts: the settings read TRAINWELL_* variables too."""
    for name in [name for name in os.environ if name.startswith("TRAINWELL_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("urls", "missing"),
    [
        ({}, ["TRAINWELL_DATABASE_URL", "TRAINWELL_BROKER_URL"]),
        ({"broker_url": BROKER_URL}, ["TRAINWELL_DATABASE_URL"]),
        ({"database_url": DATABASE_URL}, ["TRAINWELL_BROKER_URL"]),
        ({"database_url": "  ", "broker_url": BROKER_URL}, ["TRAINWELL_DATABASE_URL"]),
    ],
)
def test_production_names_each_missing_url(urls: dict[str, str], missing: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(mode="production", **urls)
    message = str(refused.value)
    assert "TRAINWELL_MODE=production needs TRAINWELL_DATABASE_URL and TRAINWELL_BROKER_URL" in message
    assert f"missing: {', '.join(missing)}" in message


def test_production_reads_both_urls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINWELL_MODE", "production")
    monkeypatch.setenv("TRAINWELL_DATABASE_URL", DATABASE_URL)
    with pytest.raises(ValidationError, match="missing: TRAINWELL_BROKER_URL"):
        Settings()
    monkeypatch.setenv("TRAINWELL_BROKER_URL", BROKER_URL)
    settings = Settings()
    assert (settings.mode, settings.database_url, settings.broker_url) == ("production", DATABASE_URL, BROKER_URL)


def test_a_refusal_does_not_echo_secrets() -> None:
    """Logs keep what a failed start printed: not the admin key, not a database password."""
    with pytest.raises(ValidationError) as refused:
        Settings(mode="production", database_url=DATABASE_URL, admin_key="changeme-not-a-sample-but-secret-1")
    assert "s3cret-password" not in str(refused.value) and "secret-1" not in str(refused.value)


def test_embedded_mode_defaults_to_sqlite_files_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.mode == "embedded"
    assert settings.database_url == f"sqlite:///{(tmp_path / 'trainwell.sqlite').resolve()}"
    assert settings.broker_url == f"sqla+sqlite:///{(tmp_path / 'broker.sqlite').resolve()}"
