"""/openapi.json says what the server does: the statuses an operation answers, the Allow of a 405,
the bytes of a PNG, the deployment's limits, and a malformed or mistyped JSON body said as such."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack import Stack, start_stack, stop_stack

pytestmark = pytest.mark.service

TINY = {"name": "conformance", "dataset": {"name": "iris"}, "model": {"hidden": [4]}, "epochs": 1}


def operation(stack: Stack, method: str, path: str) -> dict[str, Any]:
    with stack.client() as client:
        return dict(client.get("/openapi.json").json()["paths"][path][method])


def test_the_event_stream_declares_each_status_it_answers(stack: Stack) -> None:
    declared = set(operation(stack, "get", "/v1/jobs/{job_id}/events")["responses"])
    with stack.client(stack.keys["alice"]) as client, stack.client() as anonymous:
        job = client.post("/v1/jobs", json=TINY).json()
        answered = {
            anonymous.get(f"/v1/jobs/{job['id']}/events").status_code,
            client.get("/v1/jobs/no-such-job/events").status_code,
            client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": "not-an-event-id"}).status_code,
        }
        client.post(f"/v1/jobs/{job['id']}/cancel")
    assert answered == {401, 404, 400}
    assert {"200", "400", "401", "404"} <= declared


@pytest.mark.parametrize("path", ["/v1/datasets", "/v1/jobs", "/v1/jobs/{job_id}/landscape"])
def test_a_405_allows_every_method_of_its_path(stack: Stack, path: str) -> None:
    with stack.client(stack.keys["alice"]) as client:
        documented = {method.upper() for method in client.get("/openapi.json").json()["paths"][path]}
        for method in ("DELETE", "PUT", "OPTIONS"):
            refused = client.request(method, path.replace("{job_id}", "some-job"))
            assert refused.status_code == 405, refused.text
            assert set(refused.headers["Allow"].split(", ")) == documented, (method, refused.headers["Allow"])


def test_the_landscape_plot_is_declared_as_binary(stack: Stack) -> None:
    content = operation(stack, "get", "/v1/jobs/{job_id}/landscape.png")["responses"]["200"]["content"]
    assert content == {"image/png": {"schema": {"type": "string", "format": "binary"}}}


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """An embedded stack whose operator allows less than the defaults."""
    running = start_stack(tmp_path_factory.mktemp("limited"), max_epochs="50", max_model_parameters="20000")
    running.keys["alice"] = (running.data_dir / "api_key").read_text().strip()
    try:
        yield running
    finally:
        assert stop_stack(running) == 0, running.log()[-3000:]


def test_the_served_schema_carries_the_configured_limits(stack: Stack, limited_stack: Stack) -> None:
    for running, epochs, parameters in ((stack, 10_000, "50,000,000"), (limited_stack, 50, "20,000")):
        with running.client(running.keys["alice"]) as client:
            spec = client.get("/openapi.json").json()["components"]["schemas"]["JobSpec"]["properties"]
            assert spec["epochs"]["maximum"] == epochs and f"{epochs:,}" in spec["epochs"]["description"]
            assert (
                parameters in spec["model"]["description"]
                and "TRAINWELL_MAX_MODEL_PARAMETERS" in (spec["model"]["description"])
            )
            past = client.post("/v1/jobs", json={**TINY, "epochs": epochs + 1})
            assert past.status_code == 422 and past.json()["error"]["details"][0]["field"] == "epochs", past.text
    with limited_stack.client(limited_stack.keys["alice"]) as client:
        wide = client.post("/v1/jobs", json={**TINY, "model": {"hidden": [256, 256]}})
        assert wide.status_code == 422 and wide.json()["error"]["code"] == "model_too_large", wide.text


def test_a_malformed_json_body_is_a_400_naming_line_and_column(stack: Stack) -> None:
    body = '{\n  "name": "broken",\n  "dataset": {"name": "iris"}\n  "epochs": 3\n}'
    with stack.client(stack.keys["alice"]) as client:
        refused = client.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_json"
    assert error["details"] == {"line": 4, "column": 3, "position": body.index('"epochs"')}
    assert "line 4, column 3" in error["message"] and "delimiter" in error["message"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_without_its_media_type_is_a_415_naming_it(stack: Stack, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with stack.client(stack.keys["alice"]) as client, stack.client() as anonymous:
        refused = client.post("/v1/jobs", content=json.dumps(TINY), headers=headers)
        assert refused.status_code == 415, refused.text
        assert refused.json()["error"]["code"] == "unsupported_media_type"
        assert "application/json" in refused.json()["error"]["message"]
        assert anonymous.post("/v1/jobs", content=json.dumps(TINY), headers=headers).status_code == 401

        accepted = client.post(
            "/v1/jobs", content=json.dumps(TINY), headers={"Content-Type": "application/json; charset=utf-8"}
        )
        assert accepted.status_code == 201, accepted.text
        client.post(f"/v1/jobs/{accepted.json()['id']}/cancel")
    assert {"400", "415"} <= set(operation(stack, "post", "/v1/jobs")["responses"])
