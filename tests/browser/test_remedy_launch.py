"""'Run this remedy' launches one job however often it is clicked: every remedy button waits while a
launch is in flight, and the launch carries an Idempotency-Key that a retry of it (a click after the
request failed on the way) sends again, so the API can answer it with the job it already made."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import WatchedPage
from tests.browser.dashboard import SHORT, open_dashboard
from tests.stack import Stack, finished, wait_for, wait_for_diagnosis

pytestmark = [pytest.mark.service, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]


def test_a_remedy_launch_is_one_request_at_a_time_with_one_idempotency_key(
    stack: Stack, alice: httpx.Client, watched: WatchedPage
) -> None:
    job = alice.post("/v1/jobs", json={**SHORT, "name": "ui-remedy-once"}).json()
    assert wait_for(alice, job["id"], finished)["status"] == "succeeded"
    wait_for_diagnosis(alice, job["id"])
    page = watched.page
    launches = re.compile(rf"/v1/jobs/{job['id']}/remedies/")
    held: list[Route] = []  # each launch request waits here until the test lets it go
    page.route(launches, lambda route: held.append(route))
    watched.broken.append(launches)  # the first one is failed on purpose below

    open_dashboard(page, stack, stack.keys["alice"], f"#/jobs/{job['id']}")
    expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")
    buttons = page.locator("#diagnosis button.remedy")
    expect(buttons.first).to_be_enabled()
    assert buttons.count() >= 2, "the short run's diagnosis offers several remedies"
    with page.expect_request(launches) as first:
        buttons.first.click()
    key = first.value.headers.get("idempotency-key")
    assert key, "a launch must carry an Idempotency-Key"
    for button in buttons.all():  # no second launch, of this remedy or another, while one is in flight
        expect(button).to_be_disabled()

    # the request dies on the way: the click after it retries the same launch, with the same key
    held[0].abort()
    expect(page.locator("#error-box")).not_to_be_empty()
    expect(buttons.first).to_be_enabled()
    with page.expect_request(launches) as retry:
        buttons.first.click()
    assert retry.value.headers.get("idempotency-key") == key
    assert len(held) == 2
    held[1].continue_()

    expect(page.locator('[data-fact="origin"]')).to_have_text("remedy")
    remedy_id = page.url.rsplit("/", 1)[-1]
    children = alice.get("/v1/jobs", params={"parent_id": job["id"]}).json()["data"]
    assert [child["id"] for child in children] == [remedy_id]
    expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")  # a 3-epoch job: soon over
    page.unroute(launches)

    # back on the original: a new launch is a new intention, with a key of its own
    page.click('[data-fact="parent"] a')
    expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")
    with page.expect_request(launches) as second:
        buttons.first.click()
    assert second.value.headers.get("idempotency-key") not in (None, key)
    expect(page.locator('[data-fact="origin"]')).to_have_text("remedy")
    wait_for(alice, page.url.rsplit("/", 1)[-1], finished)
    watched.assert_clean()
