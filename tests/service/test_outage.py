"""With the broker down, the API says so: /readyz is 503 naming it, a submit is a 503
(never a 500 or a hang) and stores nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from store.migrate import upgrade_database
from tests.stack import ROOT, free_port


def test_broker_down_means_503_and_nothing_stored(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'trainwell.sqlite'}"
    upgrade_database(database_url)
    port, dead_port = free_port(), free_port()  # nothing listens on dead_port
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINWELL_")}
    env.update(
        TRAINWELL_DATA_DIR=str(tmp_path),
        TRAINWELL_DATABASE_URL=database_url,
        TRAINWELL_BROKER_URL=f"redis://127.0.0.1:{dead_port}/0",
        TRAINWELL_ADMIN_KEY="outage-test-operator-key",
    )
    api = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz", timeout=15)
        assert ready.status_code == 503
        assert ready.json()["error"]["details"] == {"unavailable": ["broker"]}

        headers = {"Authorization": "Bearer outage-test-operator-key"}
        began = time.monotonic()
        submit = httpx.post(f"{base}/v1/jobs", json={"dataset": {"name": "iris"}}, headers=headers, timeout=30)
        assert submit.status_code == 503, submit.text
        assert submit.json()["error"]["code"] == "broker_unavailable"
        assert submit.headers["Retry-After"]
        assert time.monotonic() - began < 10, "a dead broker must not hang the request"
        assert httpx.get(f"{base}/v1/jobs", headers=headers).json()["data"] == [], "nothing stored"
    finally:
        api.terminate()
        api.wait(timeout=10)
