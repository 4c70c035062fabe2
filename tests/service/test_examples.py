"""The examples /docs offers work: each example /openapi.json documents, sent as Swagger's "Try it
out" sends it, is a 2xx. Swagger pre-fills a body with its operation's first example, so the
default body of each operation is among them (tests/browser/test_docs.py runs one in Swagger itself).

An example cannot know the ids a caller has: a path parameter without an example gets a real
resource of this principal, and the uploaded-dataset job gets the id its upload example answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.specs import LINEAR_ON_CIRCLES
from tests.stack import Stack, finished, wait_for, wait_for_diagnosis

pytestmark = pytest.mark.service

UPLOADED_ID = re.compile(r"^ds_[0-9a-f]{16}$")


def documented_examples(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(method, path, parameter values, body) for each documented example: one request per body
    example, and one per parameter example (with the operation's first body example, if it has a body)."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            bodies = [example["value"] for media in content.values() for example in media.get("examples", {}).values()]
            default = bodies[0] if bodies else {}
            for body in bodies:
                yield method, path, {}, body
            for parameter in operation.get("parameters", []):
                for example in parameter.get("examples", {}).values():
                    yield method, path, {parameter["name"]: example["value"]}, default


def send(
    client: httpx.Client, method: str, path: str, parameters: dict[str, Any], body: dict[str, Any]
) -> httpx.Response:
    url = re.sub(r"\{(\w+)\}", lambda m: str(parameters.pop(m.group(1))), path)
    if path == "/v1/datasets" and method == "post":  # multipart: the example's `file` is the file's text
        files = {"file": ("example.csv", body["file"].encode(), "text/csv")}
        return client.post(url, files=files, data={k: v for k, v in body.items() if k != "file"})
    return client.request(method, url, params=parameters, json=body or None)


def test_every_documented_example_is_accepted(stack: Stack) -> None:
    with stack.client(stack.keys["alice"]) as client:
        schema = client.get("/openapi.json").json()
        examples = list(documented_examples(schema))
        spec_examples = schema["components"]["schemas"]["JobSpec"]["examples"]
        assert [body for method, path, _, body in examples if (method, path) == ("post", "/v1/jobs")][:3] == (
            spec_examples
        ), "POST /v1/jobs offers the JobSpec's examples, the first as Swagger's default body"

        diagnosed = client.post("/v1/jobs", json=LINEAR_ON_CIRCLES).json()
        wait_for(client, diagnosed["id"], finished)
        wait_for_diagnosis(client, diagnosed["id"], statuses=("running_probes", "ready"))  # findings to remedy
        real = {"job_id": diagnosed["id"]}

        # the upload example first: the uploaded-dataset job names what it answered
        uploads = [e for e in examples if e[:2] == ("post", "/v1/datasets")]
        assert uploads, "POST /v1/datasets documents an example form"
        uploaded = send(client, *uploads[0])
        assert uploaded.status_code in {200, 201}, uploaded.text
        dataset_id = uploaded.json()["id"]

        for method, path, parameters, body in examples:
            if UPLOADED_ID.match((body.get("dataset") or {}).get("name", "")):
                body = {**body, "dataset": {**body["dataset"], "name": dataset_id}}
            if method == "delete" and "{dataset_id}" in path:  # an upload of its own to delete
                real["dataset_id"] = send(client, *uploads[0]).json()["id"]
            values = {**{k: v for k, v in real.items() if "{" + k + "}" in path}, **parameters}
            if method == "delete" and "{job_id}" in path:  # a job of its own to delete, not the one the rest read
                values["job_id"] = client.post("/v1/jobs", json={**LINEAR_ON_CIRCLES, "epochs": 1}).json()["id"]
            response = send(client, method, path, values, body)
            assert 200 <= response.status_code < 300, (method, path, parameters, body, response.text)
            if path == "/v1/jobs" or path.endswith("/remedies/{code}"):
                cancel(client, response.json()["id"])

        for dataset_example in schema["components"]["schemas"]["DatasetSpec"]["examples"]:
            job = client.post("/v1/jobs", json={"dataset": dataset_example, "model": {"hidden": [8]}, "epochs": 2})
            assert job.status_code == 201, (dataset_example, job.text)
            cancel(client, job.json()["id"])


def cancel(client: httpx.Client, job_id: str) -> None:
    """Accepted is all this test asks: the worker is shared with the tests after it."""
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code in {200, 409}
