"""What the browser tests share: the jobs they submit and the steps that open the dashboard."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.stack import Stack

# no probe jobs: the verdict is final at once, and the worker is free for the next job
SHORT = {
    "name": "ui-short",
    "dataset": {"name": "digits"},
    "model": {"hidden": [16]},
    "epochs": 3,
    "diagnosis": {"probes": False},
}


def open_dashboard(page: Page, stack: Stack, key: str, route: str = "") -> None:
    page.goto(f"{stack.base_url}/ui{route}")
    page.fill("#key-input", key)
    page.click("#key-save")


def listed_ids(page: Page) -> list[str]:
    """The jobs table's rows, top to bottom, as job ids."""
    return page.locator("#jobs-table tbody tr[data-job-id]").evaluate_all("rows => rows.map(r => r.dataset.jobId)")


def plotted_points(page: Page, chart: str) -> int:
    return int(page.get_attribute(chart, "data-points") or 0)
