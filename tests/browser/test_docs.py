"""/docs works offline: Swagger UI from the app's own assets, and "Authorize" with a key calls the API."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

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


def test_docs_list_the_job_operations_and_call_the_api_with_a_key(stack: Stack, watched: WatchedPage) -> None:
    page = watched.page
    page.goto(f"{stack.base_url}/docs")
    for operation in JOB_OPERATIONS:
        expect(page.locator(f"#operations-jobs-{operation}")).to_be_visible()

    page.click("button.authorize")
    page.fill("#auth-bearer-value", stack.keys["alice"])
    page.click(".auth-btn-wrapper button.authorize")
    page.click(".auth-btn-wrapper button.btn-done")

    operation = page.locator("#operations-jobs-read_jobs_v1_jobs_get")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status")
    expect(status).to_have_text(re.compile(r"^\s*200"))
    expect(operation.locator(".live-responses-table tr.response td.response-col_description")).to_contain_text('"data"')
    watched.screenshot("docs")
    watched.assert_clean()
