"""Probe jobs in the jobs table: the diagnosis's experiments on a job, listed under that job rather
than among the jobs the user submitted, and as rows of their own only when asked for. "Load more"
pages count the jobs listed, not the probes under them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WatchedPage
from tests.browser.dashboard import SHORT, listed_ids, open_dashboard
from tests.specs import LINEAR_ON_CIRCLES
from tests.stack import Stack, finished, wait_for, wait_for_diagnosis

pytestmark = [pytest.mark.service, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]


def test_probe_jobs_are_listed_under_their_parent_unless_all_jobs_are_asked_for(
    stack: Stack, watched: WatchedPage
) -> None:
    key = stack.new_key("ui-probe-rows")  # a principal of its own: exactly the jobs this test submits
    with stack.client(key) as client:
        older = client.post("/v1/jobs", json={**SHORT, "name": "ui-older", "epochs": 1}).json()
        wait_for(client, older["id"], finished)
        original = client.post("/v1/jobs", json={**LINEAR_ON_CIRCLES, "name": "ui-probed"}).json()
        # settled: the probes have run, so the rows keep their statuses and the worker is free again
        settled = wait_for_diagnosis(client, original["id"], timeout=180)
        probes = client.get("/v1/jobs", params={"parent_id": original["id"]}).json()["data"]  # newest first
        probe_ids = [p["id"] for p in probes]
        assert probe_ids and sorted(probe_ids) == sorted(p["job_id"] for p in settled["probes"])
        assert all(p["origin"] == "probe" for p in probes)

    # newest first, the probes come before their parent: a page of one job skips them to reach it
    page = watched.page
    open_dashboard(page, stack, key, "#/jobs?page_size=1")
    rows = page.locator("#jobs-table tbody tr[data-job-id]")
    nested = page.locator("#jobs-table tbody tr.probe-row")
    expect(rows).to_have_count(1 + len(probe_ids))
    assert listed_ids(page) == [original["id"], *probe_ids]
    expect(nested).to_have_count(len(probe_ids))
    for probe_id in probe_ids:
        expect(page.locator(f'tr.probe-row[data-job-id="{probe_id}"]')).to_have_attribute(
            "data-parent-id", original["id"]
        )
    expect(page.locator("#jobs-more")).to_be_visible()
    watched.screenshot("ui-jobs-probes-nested")

    page.click("#jobs-more")
    expect(rows).to_have_count(2 + len(probe_ids))
    assert listed_ids(page) == [original["id"], *probe_ids, older["id"]]
    expect(page.locator("#jobs-more")).to_be_hidden()

    # every job as a row of its own, newest first, a page of one at a time again
    page.check("#show-all-jobs")
    expect(rows).to_have_count(1)
    expect(nested).to_have_count(0)
    everything = [*probe_ids, original["id"], older["id"]]
    for count in range(2, len(everything) + 1):
        page.click("#jobs-more")
        expect(rows).to_have_count(count)
    assert listed_ids(page) == everything
    expect(page.locator("#jobs-more")).to_be_hidden()
    watched.screenshot("ui-jobs-all")

    page.uncheck("#show-all-jobs")
    expect(nested).to_have_count(len(probe_ids))
    assert listed_ids(page)[0] == original["id"]
    watched.assert_clean()
