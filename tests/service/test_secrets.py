"""No API key ever comes back in a response or lands in the server's logs: valid, revoked, forged
and malformed keys, sent where keys belong and where they do not (a query string, an
Idempotency-Key, a path, a job spec, a metric name), through 401, 404 and 422 answers."""

from __future__ import annotations

import secrets
import time

import httpx
from sqlalchemy.orm import sessionmaker

from store.db import make_engine
from store.principals import create_key, get_or_create_principal, revoke_key
from tests.stack import Stack

TINY = {"dataset": {"name": "iris"}, "model": {"hidden": [4]}, "epochs": 1}
# Embedded mode prints its local key once at start, on purpose (README, tests/service/test_serve.py):
# that line, and only that line, may hold a key.
ANNOUNCEMENT = "local API key (also in "


def _key(stack: Stack, principal: str, *, is_admin: bool = False, revoked: bool = False) -> str:
    engine = make_engine(stack.database_url)
    try:
        with sessionmaker(engine)() as session, session.begin():
            owner = get_or_create_principal(session=session, name=principal)
            key = create_key(session=session, principal=owner, name=principal, is_admin=is_admin)
            if revoked:
                revoke_key(session=session, prefix=key.split("_")[1])
            return key
    finally:
        engine.dispose()


def _misplaced(client: httpx.Client, secret: str) -> list[httpx.Response]:
    """A key where no key belongs: every answer is an error that must not repeat it."""
    return [
        client.get("/v1/jobs", params={"api_key": secret, "cursor": secret}),
        client.get("/v1/jobs", params={"status": secret}),
        client.get(f"/v1/jobs/{secret}"),
        client.post(f"/v1/jobs/{secret}/cancel"),
        client.get(f"/v1/datasets/{secret}"),
        client.post("/v1/jobs", json={**TINY, "dataset": {"name": secret}}, headers={"Idempotency-Key": secret}),
        client.post("/v1/jobs", json={**TINY, "epochs": 0}, headers={"Idempotency-Key": secret}),
        client.post("/v1/jobs", json={**TINY, "name": secret, "learning_rate": secret}),
    ]


def test_no_key_appears_in_responses_or_logs(stack: Stack) -> None:
    alice = stack.keys["alice"]
    admin = _key(stack, f"ops-{secrets.token_hex(3)}", is_admin=True)
    revoked = _key(stack, f"gone-{secrets.token_hex(3)}", revoked=True)
    prefix = alice.split("_")[1]
    forged = [f"tw_{prefix}_{secrets.token_urlsafe(32)}", f"tw_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"]
    malformed = [f"tw_{secrets.token_urlsafe(40)}", f"tw__{secrets.token_hex(20)}", f"Bearer-{secrets.token_hex(20)}"]
    refused = [revoked, *forged, *malformed]
    every_key = [alice, stack.keys["bob"], admin, *refused]

    responses: list[httpx.Response] = []
    for key in refused:
        with stack.client(key) as client:
            for response in [client.get("/v1/jobs"), client.post("/v1/jobs", json=TINY)]:
                assert response.status_code == 401, response.text
                responses.append(response)
        with stack.client() as anonymous:
            responses.append(anonymous.get("/v1/jobs", params={"api_key": key}))
            assert responses[-1].status_code == 401
        if key.startswith("tw_"):  # a string not shaped like a key is echoed like any other input
            with stack.client(alice) as client:
                responses += _misplaced(client, key)

    for key in [alice, stack.keys["bob"], admin]:
        with stack.client(key) as client:
            responses.append(client.get("/v1/jobs"))
            assert responses[-1].status_code == 200, responses[-1].text
            misplaced = _misplaced(client, key)
            assert {r.status_code for r in misplaced} <= {400, 404, 422}, [r.text for r in misplaced]
            responses += misplaced
            # a valid spec under a key-shaped Idempotency-Key is stored: it must not come back either
            created = client.post("/v1/jobs", json=TINY, headers={"Idempotency-Key": key})
            assert created.status_code == 201, created.text
            responses += [created, client.post(f"/v1/jobs/{created.json()['id']}/cancel")]

    for response in responses:
        shown = f"{response.headers}\n{response.text}"
        leaked = [key[:12] + "…" for key in every_key if key in shown]
        assert not leaked, f"{response.request.method} {response.request.url.path} → {response.status_code}: {leaked}"

    time.sleep(1)  # let the API's and the worker's output reach the log file
    log = "\n".join(line for line in stack.log().splitlines() if not line.startswith(ANNOUNCEMENT))
    leaked = [key[:12] + "…" for key in every_key if key in log]
    assert not leaked, f"keys in the server log: {leaked}"
