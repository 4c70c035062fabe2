"""/ui in a real browser: the jobs table updates by itself, shows verdicts and pages with "Load more";
a running job's loss curve grows epoch by epoch from the live events, a cancel shows up everywhere,
jobs can be compared, a finished job's diagnosis card launches a remedy as a linked job, a
provisional verdict names its probe jobs until they settle it, and the error surface is computed
on request."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WatchedPage
from tests.browser.dashboard import SHORT, listed_ids, open_dashboard, plotted_points
from tests.specs import LINEAR_ON_CIRCLES
from tests.stack import Stack, finished, wait_for

pytestmark = [pytest.mark.service, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]

# many small epochs: still running while the test watches, cancelled at the end
LONG = {**SHORT, "name": "ui-long", "epochs": 2000}
# a linear model on circles cannot fit them: a high training loss, which the probe jobs must explain
LINEAR_CIRCLES = {**LINEAR_ON_CIRCLES, "name": "ui-linear-circles"}


def diagnosis_of(client: httpx.Client, job_id: str, predicate: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        diagnosis = client.get(f"/v1/jobs/{job_id}/diagnosis").json()
        if predicate(diagnosis):
            return diagnosis
        assert time.monotonic() < deadline, f"the diagnosis of {job_id} never got there: {diagnosis}"
        time.sleep(0.2)


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
    expect(page.locator("#diagnosis #confidence")).to_have_attribute("data-confidence", re.compile("high|medium|low"))
    expect(page.locator("#diagnosis #confidence-margin")).to_contain_text("Rests on:")
    expect(page.locator("#diagnosis #decomposition")).to_contain_text("generalization gap")
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


def test_jobs_table_shows_verdicts_and_pages_with_load_more(stack: Stack, watched: WatchedPage) -> None:
    key = stack.new_key("ui-pager")  # a principal of its own: exactly the jobs this test submits
    with stack.client(key) as client:
        jobs = [client.post("/v1/jobs", json={**SHORT, "name": f"page-{i}", "epochs": 1}).json() for i in range(3)]
        verdicts = {j["id"]: wait_for(client, j["id"], lambda j: j["verdict"] is not None)["verdict"] for j in jobs}
        newest_first = [j["id"] for j in reversed(jobs)]
        page = watched.page
        open_dashboard(page, stack, key, "#/jobs?page_size=2")

        rows = page.locator("#jobs-table tbody tr[data-job-id]")
        expect(rows).to_have_count(2)
        assert listed_ids(page) == newest_first[:2]
        for job_id in newest_first[:2]:
            badge = page.locator(f'tr[data-job-id="{job_id}"] td.verdict .badge')
            expect(badge).to_have_attribute("data-verdict", verdicts[job_id])
        watched.screenshot("ui-jobs-verdicts")

        page.click("#jobs-more")
        expect(rows).to_have_count(3)
        assert listed_ids(page) == newest_first
        expect(page.locator("#jobs-more")).to_be_hidden()

        # still live over both pages: a new job comes in at the top, then gets its verdict
        fourth = client.post("/v1/jobs", json={**SHORT, "name": "page-3", "epochs": 1}).json()
        expect(rows).to_have_count(4)
        assert listed_ids(page) == [fourth["id"], *newest_first]
        verdict = wait_for(client, fourth["id"], lambda j: j["verdict"] is not None)["verdict"]
        expect(page.locator(f'tr[data-job-id="{fourth["id"]}"] td.verdict .badge')).to_have_attribute(
            "data-verdict", verdict
        )

        # a status filter starts again from the first page
        page.select_option("#status-filter", "succeeded")
        expect(rows).to_have_count(2)
        expect(page.locator("#jobs-more")).to_be_visible()
        page.click("#jobs-more")
        expect(rows).to_have_count(4)
        watched.assert_clean()


def test_provisional_verdict_names_its_probe_jobs_until_they_settle_it(
    stack: Stack, alice: httpx.Client, watched: WatchedPage
) -> None:
    original = alice.post("/v1/jobs", json=LINEAR_CIRCLES).json()
    # the worker runs one job at a time: the probes, queued when the original ends, wait behind this one
    blocker = alice.post("/v1/jobs", json={**LONG, "name": "ui-blocker"}).json()
    try:
        provisional = diagnosis_of(alice, original["id"], lambda d: d["status"] != "pending")
        assert provisional["status"] == "running_probes", provisional
        probe_ids = [p["job_id"] for p in provisional["probes"]]
        assert probe_ids and all(probe_ids)

        page = watched.page
        open_dashboard(page, stack, stack.keys["alice"], f"#/jobs/{original['id']}")
        banner = page.locator("#probes-banner")
        expect(banner).to_contain_text("Verdict is provisional: probe jobs are running")
        for probe in provisional["probes"]:
            item = banner.locator(f'li[data-probe="{probe["kind"]}"]')
            expect(item.locator("a.probe-link")).to_have_attribute("href", f"#/jobs/{probe['job_id']}")
            expect(item.locator(".badge")).to_have_attribute("data-status", "queued")
            expect(item.locator(".probe-loss")).to_contain_text("this job:")
        expect(page.locator("#diagnosis .verdict.provisional")).to_be_visible()
        for button in page.locator("#diagnosis button.remedy").all():
            expect(button).to_be_disabled()  # a remedy waits for the settled verdict
        watched.screenshot("ui-probes-running")
    finally:
        alice.post(f"/v1/jobs/{blocker['id']}/cancel")

    # the probes run now; the page, asking every 2 s, shows the settled verdict without a reload
    settled = diagnosis_of(alice, original["id"], lambda d: d["status"] == "ready")
    expect(banner).to_have_count(0)
    expect(page.locator("#diagnosis [data-verdict]")).to_have_attribute("data-verdict", settled["verdict"])
    expect(page.locator("#diagnosis .verdict.provisional")).to_have_count(0)
    expect(page.locator("#probes li")).to_have_count(len(probe_ids))
    for probe in settled["probes"]:  # the linked jobs follow the probes' statuses too
        linked = page.locator(f'#linked-jobs li:has(a[href="#/jobs/{probe["job_id"]}"]) [data-status]')
        expect(linked).to_have_attribute("data-status", probe["status"])
    expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")
    watched.screenshot("ui-probes-settled")

    # a probe's page says what it probes
    page.click(f'#probes a[href="#/jobs/{probe_ids[0]}"]')
    expect(page.locator("#job-origin")).to_contain_text("probe of")
    expect(page.locator("#job-parent")).to_have_text(LINEAR_CIRCLES["name"])
    expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")
    page.click("#job-parent")
    expect(page.locator("#job-title")).to_have_text(LINEAR_CIRCLES["name"])
    expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")
    wait_for(alice, blocker["id"], finished)
    watched.assert_clean()


def test_error_surface_is_computed_on_request(stack: Stack, alice: httpx.Client, watched: WatchedPage) -> None:
    job = alice.post("/v1/jobs", json={**SHORT, "name": "ui-surface"}).json()
    assert wait_for(alice, job["id"], finished)["status"] == "succeeded"
    page = watched.page
    open_dashboard(page, stack, stack.keys["alice"], f"#/jobs/{job['id']}")
    panel = page.locator("#landscape")
    expect(panel).to_have_attribute("data-status", "none")  # never requested: just the button
    expect(page.locator("#landscape-image")).to_have_count(0)

    page.click("#landscape-compute")
    image = page.locator("#landscape-image")
    expect(image).to_be_visible(timeout=120_000)
    page.wait_for_function("() => document.querySelector('#landscape-image').naturalWidth > 0")
    expect(panel).to_have_attribute("data-status", "ready")
    expect(page.locator("#chart-landscape-line")).to_have_attribute("data-series", "2")  # train and val loss
    assert plotted_points(page, "#chart-landscape-line") >= 2
    expect(page.locator('#landscape-facts [data-fact="rows"]')).not_to_have_text("—")
    expect(page.locator("#landscape-compute")).to_be_hidden()
    watched.screenshot("ui-landscape")

    # a landscape that exists is shown on the next visit
    expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")  # nothing left to abort
    page.reload()
    expect(page.locator("#landscape-image")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#landscape-image').naturalWidth > 0")
    expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")
    watched.assert_clean()
