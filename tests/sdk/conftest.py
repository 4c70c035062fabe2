"""SDK tests talk to the real stack (`stack` from tests/conftest.py) through `trainwell.Client`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

import trainwell
from tests.stack import Stack

# tiny on purpose: iris trains an epoch in milliseconds, so a job costs the worker's start-up, not training.
# Three epochs leave the loss high, which would queue probe jobs: these tests are about the client, so
# probes are off (tests/service/test_probes.py covers them, and their events).
TINY_IRIS: dict[str, Any] = {
    "name": "sdk-tiny-iris",
    "dataset": {"name": "iris"},
    "model": {"hidden": [8]},
    "optimizer": {"name": "adam", "lr": 0.05},
    "batch_size": 32,
    "epochs": 3,
    "diagnosis": {"probes": False},
}


@pytest.fixture
def fresh_key(stack: Stack) -> str:
    """A key of a principal no other test uses, so counting its jobs is exact."""
    return stack.new_key(f"sdk-{secrets.token_hex(4)}")


@pytest.fixture
def client(stack: Stack) -> Iterator[trainwell.Client]:
    with trainwell.Client(base_url=stack.base_url, api_key=stack.keys["alice"]) as client:
        yield client
