"""The job page's layout at a phone's, a laptop's and a wide screen's width, with everything a
finished job shows: curves, summary, diagnosis (curvature included), a linked remedy job and a
computed error surface. Measured from element boxes: no two panels overlap, the error surface's line
chart and its contour image sit side by side or stacked, never on top of each other, and nothing
spills out of its card, on a fresh load at each width and after a resize."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import WatchedPage
from tests.browser.dashboard import SHORT, open_dashboard
from tests.browser.layout import overlaps, settle, spills
from tests.stack import Stack, finished, wait_for, wait_for_diagnosis, wait_for_landscape

pytestmark = [pytest.mark.service, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]

WIDTHS = (390, 1280, 1920)  # a phone, a laptop, a wide monitor
PANELS = "#view .card, #view .chart, #landscape-contour"
SURFACE = "#chart-landscape-line canvas, #landscape-image"


def finished_job_with_surface(client: httpx.Client) -> dict[str, Any]:
    """A finished job with its diagnosis, one remedy job linked to it, and its error surface."""
    job = client.post("/v1/jobs", json={**SHORT, "name": "ui-layout"}).json()
    assert wait_for(client, job["id"], finished)["status"] == "succeeded"
    diagnosis = wait_for_diagnosis(client, job["id"])
    assert diagnosis["curvature"], diagnosis  # the card's λmax/λmin line is part of what must fit
    finding = next(f for f in diagnosis["findings"] if f["remedies"])
    remedy = client.post(f"/v1/jobs/{job['id']}/remedies/{finding['code']}").json()
    assert client.post(f"/v1/jobs/{job['id']}/landscape").status_code in (200, 202)
    wait_for(client, remedy["id"], finished)
    assert wait_for_landscape(client, job["id"])["status"] == "ready"
    return job


def wait_for_everything(page: Page) -> None:
    page.wait_for_function("() => document.querySelector('#landscape-image')?.naturalWidth > 0")
    expect(page.locator("#chart-landscape-line")).to_have_attribute("data-series", "2")
    expect(page.locator("#diagnosis #curvature")).to_be_visible()
    expect(page.locator("#job-summary")).to_be_visible()
    expect(page.locator("#linked-jobs")).to_be_visible()
    expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")  # nothing left to abort
    settle(page)


def layout_problems(page: Page) -> list[str]:
    return [*overlaps(page, PANELS), *overlaps(page, SURFACE), *spills(page, "#view .card, #view .chart")]


def test_job_page_panels_neither_overlap_nor_spill_at_phone_laptop_and_wide_widths(
    stack: Stack, alice: httpx.Client, watched: WatchedPage
) -> None:
    job = finished_job_with_surface(alice)
    page = watched.page
    problems: dict[str, list[str]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        if not problems:
            open_dashboard(page, stack, stack.keys["alice"], f"#/jobs/{job['id']}")
        else:
            page.reload()
        wait_for_everything(page)
        problems[f"{width} px"] = layout_problems(page)  # measured before a screenshot can resize anything
        watched.screenshot(f"ui-job-layout-{width}")

    # from the widest to the narrowest without a reload: the charts follow their boxes
    page.set_viewport_size({"width": WIDTHS[0], "height": 1000})
    settle(page)
    problems[f"{WIDTHS[-1]} → {WIDTHS[0]} px"] = layout_problems(page)
    watched.screenshot(f"ui-job-layout-resized-to-{WIDTHS[0]}")
    assert not any(problems.values()), "\n".join(f"{k}: {p}" for k, found in problems.items() for p in found)
    watched.assert_clean()
