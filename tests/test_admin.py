"""Operator tools: key administration from the command line, and settings that refuse unsafe production defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker

from core.settings import Settings
from store.db import make_engine
from store.migrate import upgrade_database
from store.principals import authenticate
from tests.stack import ROOT

# production mode refuses to start without both (tests/test_settings.py); nothing connects to them here
PRODUCTION_DATABASE, PRODUCTION_BROKER = "postgresql+psycopg://db.invalid/trainwell", "redis://broker.invalid:6379/0"


def _admin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINWELL_")}
    env["TRAINWELL_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "api.admin", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_create_list_and_revoke_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trainwell.sqlite'}"
    upgrade_database(url)
    created = _admin(tmp_path, "create-key", "--name", "dana", "--admin")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("tw_")
    engine = make_engine(url)
    with sessionmaker(engine)() as session:
        caller = authenticate(session=session, key=key, admin_key=None)
        assert caller is not None and caller.name == "dana" and caller.is_admin

    listed = _admin(tmp_path, "list-keys")
    prefix = key.split("_")[1]
    assert f"tw_{prefix}_…" in listed.stdout and "dana (admin)" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout, "a key is shown once, at creation, never again"

    assert _admin(tmp_path, "revoke-key", prefix).returncode == 0
    assert "revoked" in _admin(tmp_path, "list-keys").stdout
    with sessionmaker(engine)() as session:
        assert authenticate(session=session, key=key, admin_key=None) is None
    assert _admin(tmp_path, "revoke-key", "ffffffff").returncode == 1
    engine.dispose()


@pytest.mark.parametrize("admin_key", ["", "changeme", "admin", "  secret "])
def test_production_refuses_a_sample_admin_key(admin_key: str) -> None:
    with pytest.raises(ValidationError, match="refusing to start in production mode"):
        Settings(mode="production", admin_key=admin_key, database_url=PRODUCTION_DATABASE, broker_url=PRODUCTION_BROKER)
    Settings(mode="embedded", admin_key=admin_key)  # a laptop may use what it likes


def test_admin_rights_come_only_from_the_flag_never_from_a_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trainwell.sqlite'}"
    upgrade_database(url)
    engine = make_engine(url)

    def caller(key: str):  # type: ignore[no-untyped-def]
        with sessionmaker(engine)() as session:
            found = authenticate(session=session, key=key, admin_key="operator-secret-key")
            session.commit()
            return found

    assert caller("operator-secret-key").is_admin  # the operator's key makes the 'admin' principal
    refused = _admin(tmp_path, "create-key", "--name", "admin")
    assert refused.returncode == 2 and "--admin" in refused.stderr, refused.stdout + refused.stderr
    assert "tw_" not in refused.stdout

    ops_admin = _admin(tmp_path, "create-key", "--name", "ops", "--admin").stdout.strip()
    ops_plain = _admin(tmp_path, "create-key", "--name", "ops").stdout.strip()
    assert caller(ops_admin).is_admin
    plain = caller(ops_plain)
    assert plain is not None and not plain.is_admin and plain.scope is not None, "a name is only a name"
    listed = _admin(tmp_path, "list-keys").stdout
    assert listed.count("ops (admin)") == 1 and listed.count("ops  active") == 1, listed
    engine.dispose()
