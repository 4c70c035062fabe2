"""Retries: a POST whose answer is lost is retried with the same Idempotency-Key and makes one job;
408/429/5xx are retried honouring Retry-After; httpx never leaks out of the SDK."""

from __future__ import annotations

import time

import httpx
import pytest

import trainwell
from tests.sdk.conftest import TINY_IRIS
from tests.sdk.proxy import ResettingProxy
from tests.stack import Stack, free_port


def _header(message: bytes, name: str) -> str:
    head = message.partition(b"\r\n\r\n")[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    raise AssertionError(f"no {name} header in {head!r}")


def test_a_post_whose_answer_was_lost_is_retried_into_the_same_job(stack: Stack, fresh_key: str) -> None:
    upstream_port = int(stack.base_url.rsplit(":", 1)[1])
    with (
        ResettingProxy(upstream_port) as proxy,
        trainwell.Client(base_url=proxy.url, api_key=fresh_key, max_retries=2) as client,
    ):
        job = client.jobs.create({**TINY_IRIS, "name": "retried", "epochs": 1})

    # the server really got the POST twice: it answered the first (lost on the way) and replayed the second
    posts = [r for r in proxy.requests if r.startswith(b"POST /v1/jobs ")]
    assert len(posts) == 2, proxy.requests
    assert len(proxy.lost_answers) == 1 and proxy.lost_answers[0].startswith(b"HTTP/1.1 201")
    assert _header(posts[0], "Idempotency-Key") == _header(posts[1], "Idempotency-Key")
    assert b"idempotent-replayed: true" in bytes(proxy.delivered).lower()

    with trainwell.Client(base_url=stack.base_url, api_key=fresh_key) as direct:
        assert [j.id for j in direct.jobs.list()] == [job.id], "one job, not two"


def _scripted(*answers: httpx.Response | Exception) -> tuple[httpx.Client, list[httpx.Request]]:
    """An httpx client whose transport plays back answers in order: the network, scripted."""
    seen: list[httpx.Request] = []
    script = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.Client(transport=httpx.MockTransport(handle)), seen


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": code, "details": None}}, headers=headers)


PAGE: dict[str, object] = {"data": [], "next_cursor": None}


def test_429_and_503_are_retried_after_retry_after() -> None:
    http, seen = _scripted(
        _error(429, "rate_limited", {"Retry-After": "0.3"}),
        _error(503, "database_unavailable", {"Retry-After": "0"}),
        httpx.Response(200, json=PAGE),
    )
    with trainwell.Client(base_url="http://api.test", api_key="k", http_client=http, max_retries=2) as client:
        started = time.monotonic()
        page = client.jobs.list()
    assert page.data == [] and len(seen) == 3
    assert time.monotonic() - started >= 0.3, "Retry-After: 0.3 was not honoured"


def test_retries_run_out_into_the_typed_error() -> None:
    http, seen = _scripted(*[_error(503, "broker_unavailable", {"Retry-After": "0"})] * 3)
    client = trainwell.Client(base_url="http://api.test", api_key="k", http_client=http, max_retries=2)
    with pytest.raises(trainwell.InternalServerError) as caught:
        client.jobs.list()
    assert caught.value.status_code == 503 and caught.value.code == "broker_unavailable" and len(seen) == 3


def test_client_errors_are_not_retried_and_every_post_keeps_its_key() -> None:
    http, seen = _scripted(httpx.ConnectError("refused"), _error(409, "idempotency_conflict"))
    client = trainwell.Client(base_url="http://api.test", api_key="k", http_client=http, max_retries=5)
    with pytest.raises(trainwell.ConflictError):
        client.jobs.create(TINY_IRIS, idempotency_key="my-key")
    assert len(seen) == 2
    assert [r.headers["Idempotency-Key"] for r in seen] == ["my-key", "my-key"]
    assert all(r.headers["Authorization"] == "Bearer k" for r in seen)


def test_a_body_that_is_not_the_model_is_a_validation_error() -> None:
    http, _ = _scripted(httpx.Response(200, json={"id": "x"}))
    client = trainwell.Client(base_url="http://api.test", api_key="k", http_client=http)
    with pytest.raises(trainwell.APIResponseValidationError, match="not a Job"):
        client.jobs.retrieve("x")


def test_no_httpx_exception_leaks() -> None:
    with (
        trainwell.Client(base_url=f"http://127.0.0.1:{free_port()}", api_key="k", max_retries=1) as client,
        pytest.raises(trainwell.APIConnectionError) as refused,
    ):
        client.jobs.list()
    assert not isinstance(refused.value, httpx.HTTPError) and refused.value.__cause__ is None
    assert "cannot reach http://127.0.0.1:" in str(refused.value)

    http, _ = _scripted(httpx.ReadTimeout("slow"))
    client = trainwell.Client(base_url="http://api.test", api_key="k", http_client=http, max_retries=0)
    with pytest.raises(trainwell.APITimeoutError):
        client.jobs.retrieve("x")
