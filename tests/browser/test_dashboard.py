"""/ui in a real browser: the jobs table updates by itself, a running job's loss curve grows
epoch by epoch from the live events, a cancel shows up everywhere, jobs can be compared, and a
finished job's diagnosis card launches a remedy as a linked job."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import WatchedPage
from tests.stack import Stack, finished, wait_for

pytestmark = [pytest.mark.service, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]

SHORT = {"name": "ui-short", "dataset": {"name": "digits"}, "model": {"hidden": [16]}, "epochs": 3}
# many small epochs: still running while the test watches, cancelled at the end
LONG = {**SHORT, "name": "ui-long", "epochs": 2000}


@pytest.fixture
def alice(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(stack.keys["alice"]) as client:
        yield client


def plotted_points(page: Page, chart: str) -> int:
    return int(page.get_attribute(chart, "data-points") or 0)


def test_dashboard_follows_a_job_live_and_compares_jobs(
    stack: Stack, alice: httpx.Client, watched: WatchedPage
) -> None:
    short = alice.post("/v1/jobs", json=SHORT).json()
    assert wait_for(alice, short["id"], finished)["status"] == "succeeded"
    page = watched.page
    page.goto(f"{stack.base_url}/ui")
    page.fill("#key-input", stack.keys["alice"])
    page.click("#key-save")
    expect(page.locator(f'tr[data-job-id="{short["id"]}"] .status .badge')).to_have_attribute(
        "data-status", "succeeded"
    )

    long = alice.post("/v1/jobs", json=LONG).json()
    try:
        # the table polls: the new job appears and turns running without a reload
        row = page.locator(f'tr[data-job-id="{long["id"]}"]')
        expect(row.locator(".status .badge")).to_have_attribute("data-status", "running")
        watched.screenshot("ui-jobs")

        row.locator("a.job-link").click()
        expect(page.locator("#job-title")).to_have_text("ui-long")
        page.wait_for_function("n => +document.querySelector('#chart-loss').dataset.points >= n", arg=2)
        first = plotted_points(page, "#chart-loss")
        page.wait_for_function("n => +document.querySelector('#chart-loss').dataset.points >= n", arg=first + 3)
        assert plotted_points(page, "#chart-loss") > first, "the loss curve must grow while the job runs"
        assert page.get_attribute("#chart-loss", "data-series") == "3"  # train, val, test
        assert page.get_attribute("#chart-score", "data-series") == "3"  # accuracy per split
        assert page.get_attribute("#chart-lr", "data-series") == "1"
        assert int(page.get_attribute("#chart-grad-norm", "data-series") or 0) >= 1
        watched.screenshot("ui-job-running")

        page.click("#job-cancel")
        expect(page.locator('[data-fact="status"] .badge')).to_have_attribute("data-status", "cancelled")
        expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")  # the server ended it
        # the stream's last event is the diagnosis of the cancelled run: the card shows it unasked
        expect(page.locator("#diagnosis [data-verdict]")).to_be_visible()
        stopped_at = plotted_points(page, "#chart-loss")
        assert stopped_at >= first + 3
        watched.screenshot("ui-job-cancelled")
    finally:
        alice.post(f"/v1/jobs/{long['id']}/cancel")
    assert wait_for(alice, long["id"], finished)["status"] == "cancelled"

    page.click("text=← all jobs")
    expect(row.locator(".status .badge")).to_have_attribute("data-status", "cancelled")
    row.locator("input.pick").check()
    page.locator(f'tr[data-job-id="{short["id"]}"] input.pick').check()
    page.click("#compare-picked")
    expect(page.locator("#chart-compare")).to_have_attribute("data-series", "2")
    assert plotted_points(page, "#chart-compare") >= stopped_at
    page.select_option("#compare-metric", "val_accuracy")
    expect(page.locator("#chart-compare .u-title")).to_have_text("val_accuracy")
    watched.screenshot("ui-compare")

    # the finished job's diagnosis card, and a remedy button that launches the linked job
    page.click(f'#compare-jobs a[href="#/jobs/{short["id"]}"]')
    verdict = page.locator("#diagnosis [data-verdict]")
    expect(verdict).to_be_visible()
    expect(page.locator("#diagnosis .finding").first).to_be_visible()
    remedy = page.locator("#diagnosis button.remedy").first
    expect(remedy).to_be_visible()  # a 3-epoch run has not fitted digits: there is something to do
    watched.screenshot("ui-diagnosis")

    remedy.click()
    expect(page.locator('[data-fact="origin"]')).to_have_text("remedy")
    expect(page.locator(f'[data-fact="parent"] a[href="#/jobs/{short["id"]}"]')).to_be_visible()
    remedy_id = page.url.rsplit("/", 1)[-1]
    try:
        assert alice.get(f"/v1/jobs/{remedy_id}").json()["parent_id"] == short["id"]
        page.click("#job-cancel")  # leave only once its stream has ended: no aborted request
        expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")
        page.click('[data-fact="parent"] a')
        expect(page.locator(f'#linked-jobs a[href="#/jobs/{remedy_id}"]')).to_be_visible()
        watched.screenshot("ui-linked")
    finally:
        alice.post(f"/v1/jobs/{remedy_id}/cancel")
    wait_for(alice, remedy_id, finished)
    watched.assert_clean()
