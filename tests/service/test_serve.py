"""`make run`'s supervisor: migrates, makes the local key, serves /docs, and on Ctrl-C
stops the API and the worker with every process they started."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.stack import ROOT, free_port, start_stack


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:  # ppid
                children.append(int(entry.name))
    return children


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_run_serves_docs_with_a_private_local_key_and_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    try:
        log = stack.log()
        assert f"{stack.base_url}/docs" in log
        key_file = stack.data_dir / "api_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text().strip()
        assert key.startswith("tw_") and key in log

        docs = httpx.get(f"{stack.base_url}/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        schema = httpx.get(f"{stack.base_url}/openapi.json").json()
        assert "/v1/jobs" in schema["paths"] and "JobSpec" in schema["components"]["schemas"]

        groups = _children(stack.process.pid)  # each child leads its own process group
        assert len(groups) == 2, f"expected the API and the worker, found {groups}"
        assert any(_children(pid) for pid in groups), "the worker's pool child should be running"
    finally:
        stack.process.send_signal(signal.SIGINT)
        code = stack.process.wait(timeout=30)
    assert code == 0, stack.log()
    assert "trainwell stopped" in stack.log()
    leftovers = [pgid for pgid in groups if _group_alive(pgid)]
    assert not leftovers, f"process groups still alive after Ctrl-C: {leftovers}"

    # a second start reuses the key instead of minting a new one
    again = start_stack(tmp_path)
    try:
        assert (again.data_dir / "api_key").read_text().strip() == key
    finally:
        again.process.send_signal(signal.SIGTERM)
        assert again.process.wait(timeout=30) == 0


def test_production_without_its_database_and_broker_urls_refuses_to_start(tmp_path: Path) -> None:
    """`make run` in production mode with neither URL set exits at once, naming both variables,
    instead of serving from embedded mode's SQLite files."""
    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINWELL_")}
    env.update(TRAINWELL_MODE="production", TRAINWELL_DATA_DIR=str(data_dir), TRAINWELL_PORT=str(free_port()))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "api.serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    elapsed = time.monotonic() - started
    assert result.returncode != 0, result.stdout + result.stderr
    assert "TRAINWELL_DATABASE_URL" in result.stderr and "TRAINWELL_BROKER_URL" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, "a refused configuration is one line, not a stack trace"
    assert elapsed < 15, f"took {elapsed:.1f}s to refuse"
    assert not data_dir.exists(), "nothing is written before the configuration is accepted"
