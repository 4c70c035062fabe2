"""/docs works offline: Swagger UI from the app's own assets, and "Authorize" with a key calls the API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import WatchedPage
from tests.stack import Stack

pytestmark = [pytest.mark.service, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]

JOB_OPERATIONS = [
    "create_job_v1_jobs_post",
    "read_jobs_v1_jobs_get",
    "read_job_v1_jobs__job_id__get",
    "cancel_job_v1_jobs__job_id__cancel_post",
    "read_job_metrics_v1_jobs__job_id__metrics_get",
    "read_job_events_v1_jobs__job_id__events_get",
]


def authorize(page: Page, key: str) -> None:
    page.click("button.authorize")
    page.fill("#auth-bearer-value", key)
    page.click(".auth-btn-wrapper button.authorize")
    page.click(".auth-btn-wrapper button.btn-done")


def try_out(page: Page, operation_id: str) -> Locator:
    """Open an operation and press "Try it out": its form holds what Swagger pre-fills."""
    operation = page.locator(f"#operations-{operation_id}")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    return operation


def execute(operation: Locator) -> Locator:
    """Press Execute; the live response's status and body."""
    operation.locator("button.execute").click()
    return operation.locator(".live-responses-table tr.response")


def test_docs_list_the_job_operations_and_call_the_api_with_a_key(stack: Stack, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(f"{stack.base_url}/docs")
    for operation in JOB_OPERATIONS:
        expect(page.locator(f"#operations-jobs-{operation}")).to_be_visible()
    authorize(page, stack.keys["alice"])

    response = execute(try_out(page, "jobs-read_jobs_v1_jobs_get"))
    expect(response.locator(".response-col_status")).to_have_text(re.compile(r"^\s*200"))
    expect(response.locator("td.response-col_description")).to_contain_text('"data"')
    watched.screenshot("docs")
    watched.assert_clean()


def test_the_pre_filled_examples_submit_a_job_and_upload_a_table(
    stack: Stack, watched: WatchedPage, alice: httpx.Client, tmp_path: Path
) -> None:
    """Swagger's default body for POST /v1/jobs (the first example) and its upload form, as they
    are pre-filled: once they were `"name": "string"` and a 422."""
    page = watched.page
    page.goto(f"{stack.base_url}/docs")
    authorize(page, stack.keys["alice"])

    submit = try_out(page, "jobs-create_job_v1_jobs_post")
    expect(submit.locator("textarea.body-param__text")).to_contain_text('"digits"')
    response = execute(submit)
    expect(response.locator(".response-col_status")).to_have_text(re.compile(r"^\s*201"))
    job = json.loads(response.locator("td.response-col_description .microlight").first.inner_text())
    assert job["spec"]["dataset"]["name"] == "digits"
    alice.post(f"/v1/jobs/{job['id']}/cancel")

    upload = try_out(page, "datasets-create_dataset_v1_datasets_post")
    expect(upload.locator("input[placeholder='target']")).to_have_value("label")
    table = tmp_path / "table.csv"
    table.write_text("x1,x2,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40)))
    upload.locator("input[type=file]").set_input_files(table)
    response = execute(upload)
    expect(response.locator(".response-col_status")).to_have_text(re.compile(r"^\s*20[01]"))
    expect(response.locator("td.response-col_description")).to_contain_text('"ds_')
    watched.assert_clean()
