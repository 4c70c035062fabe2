"""A sweep in the dashboard: listed under the jobs, its view shows the comparison table (sortable by a
column's mean, either way), the best cell against the runner-up with Welch's p-value, each cell's mean
validation-loss curve with a ±std band, the findings, and a link to every trial's job view; its boxes
neither overlap nor spill at a phone's, a laptop's and a wide screen's width. A running sweep's view
follows it without a reload, and its Cancel button ends it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import WatchedPage
from tests.browser.dashboard import SHORT, open_dashboard, plotted_points
from tests.browser.layout import overlaps, settle, spills
from tests.stack import Stack, finished, wait_for, wait_for_sweep

pytestmark = [pytest.mark.service, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]

WIDTHS = (390, 1280, 1920)  # the job layout test's: a phone, a laptop, a wide monitor
EPOCHS = 3
SWEEP: dict[str, Any] = {
    "name": "ui-sweep",
    "base": {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": EPOCHS},
    "grid": {"optimizer.name": ["sgd", "adam"]},
    "seeds": [0, 1],
}
# one trial at a time, each long enough to still be running while the test watches
LIVE_SWEEP: dict[str, Any] = {
    "name": "ui-sweep-live",
    "base": {**{k: v for k, v in SHORT.items() if k != "name"}, "epochs": 2000},
    "grid": {"optimizer.name": ["sgd", "adam"]},
    "seeds": [0],
    "max_parallel": 1,
}
# the view's panels, and the name–value pairs of its facts: none may lie over another
PANELS = "#view .toolbar, #sweep-facts, #sweep-best, #sweep-cells, #view .card, #view .chart"
FACTS = "#sweep-facts dt, #sweep-facts dd"
CARDS = "#view .card, #view .chart, #sweep-best, #sweep-facts > div"


def shown_stat(stat: dict[str, Any]) -> str:
    """What a table cell shows of a statistic, in part: ± with a std, the count without one, — without a mean."""
    if stat["mean"] is None:
        return "—"
    return "±" if stat["std"] is not None else f"(n = {stat['n']})"


def row_cells(page: Page) -> list[int]:
    """The sweep table's rows, top to bottom, as cell indices."""
    return page.locator("#sweep-table tbody tr[data-cell]").evaluate_all("rows => rows.map(r => +r.dataset.cell)")


def wait_for_sweep_view(page: Page) -> None:
    """Everything drawn and nothing more to ask: the refresh has ended, the chart has its lines and bands."""
    expect(page.locator("#sweep-live")).to_have_attribute("data-refresh", "ended")
    expect(page.locator("#chart-sweep")).to_have_attribute("data-bands", "2")
    settle(page)


def layout_problems(page: Page) -> list[str]:
    return [*overlaps(page, PANELS), *overlaps(page, FACTS), *spills(page, CARDS)]


def test_sweep_page_compares_cells_links_trials_and_fits_every_width(
    stack: Stack, alice: httpx.Client, watched: WatchedPage
) -> None:
    created = alice.post("/v1/sweeps", json=SWEEP)
    assert created.status_code == 201, created.text
    sweep = wait_for_sweep(alice, created.json()["id"])
    assert sweep["status"] == "succeeded" and sweep["counts"]["succeeded"] == 4, sweep
    table = sweep["table"]
    assert len(table) == 2 and all(row["metrics"]["best_val_loss"]["std"] is not None for row in table), table

    # listed under the jobs, with its status, trials and counts; its name opens it
    page = watched.page
    open_dashboard(page, stack, stack.keys["alice"])
    listed = page.locator(f'#sweeps-table tr[data-sweep-id="{sweep["id"]}"]')
    expect(listed.locator(".status .badge")).to_have_attribute("data-status", "succeeded")
    expect(listed.locator(".trial-count")).to_have_text("4")
    expect(listed.locator('[data-count="succeeded"]')).to_have_text("4 succeeded")
    listed.locator("a.sweep-link").click()
    expect(page.locator("#sweep-title")).to_have_text(SWEEP["name"])
    wait_for_sweep_view(page)

    # a row per cell: its grid value, its trials succeeded, and mean ± std
    rows = page.locator("#sweep-table tbody tr[data-cell]")
    expect(rows).to_have_count(2)
    for cell in table:
        row = page.locator(f'#sweep-table tr[data-cell="{cell["cell"]}"]')
        expect(row.locator('[data-column="value:optimizer.name"]')).to_have_text(cell["values"]["optimizer.name"])
        expect(row.locator('[data-column="succeeded"]')).to_have_text("2 / 2")
        expect(row.locator('[data-column="best_val_loss"]')).to_contain_text("±")
        stats = {"best_val_accuracy": cell["metrics"]["best_val_accuracy"], "lambda_max": cell["lambda_max"]}
        for column, stat in stats.items():  # λmax is missing where a trial's curvature was skipped
            expect(row.locator(f'[data-column="{column}"]')).to_contain_text(shown_stat(stat))
        expect(row.locator("a.trial-link")).to_have_count(len(cell["job_ids"]))
    watched.screenshot("ui-sweep")

    # the best-val-loss header sorts on the mean, lowest first; once more, highest first
    means = {cell["cell"]: cell["metrics"]["best_val_loss"]["mean"] for cell in table}
    ascending = sorted(means, key=means.__getitem__)
    header = page.locator('#sweep-table th[data-sort="best_val_loss"]')
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert row_cells(page) == ascending
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert row_cells(page) == ascending[::-1]

    # the comparison names the p-value the API computed, or says the cells are not separable
    best = sweep["best"]
    line = page.locator("#sweep-best")
    expect(line).to_contain_text(f"cell {best['best_cell']} (")
    text = line.inner_text()
    if best["p_value"] is not None:
        shown = re.search(r"Welch p = ([0-9.e+-]+)", text)
        assert shown, text
        assert float(shown.group(1)) == pytest.approx(best["p_value"], rel=1e-3)
    if not best["separable"]:
        assert "not separable" in text, text
    findings = page.locator("#sweep-findings .finding")
    expect(findings).to_have_count(len(sweep["findings"]))
    for finding in sweep["findings"]:
        shown_finding = page.locator(f'#sweep-findings .finding[data-code="{finding["code"]}"]')
        expect(shown_finding).to_contain_text(finding["title"])
        expect(shown_finding).to_contain_text(finding["severity"])

    # a curve and a band per cell, over every epoch; the legend names the curves alone
    chart = page.locator("#chart-sweep")
    expect(chart).to_have_attribute("data-series", "2")
    expect(chart).to_have_attribute("data-bands", "2")
    assert plotted_points(page, "#chart-sweep") == EPOCHS
    expect(chart.locator("canvas")).to_be_visible()
    legend = chart.locator(".u-legend tr.u-series:not(.band-edge)")
    expect(legend).to_have_count(3)  # the epoch, then the cells
    for cell in table:
        expect(legend.filter(has_text=f"cell {cell['cell']} (")).to_be_visible()
    edges = chart.locator(".u-legend tr.band-edge")
    expect(edges).to_have_count(4)
    for edge in edges.all():
        expect(edge).to_be_hidden()

    # at each width after a reload, and from the widest to the narrowest without one
    problems: dict[str, list[str]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.reload()
        wait_for_sweep_view(page)
        problems[f"{width} px"] = layout_problems(page)  # measured before a screenshot can resize anything
        watched.screenshot(f"ui-sweep-layout-{width}")
    page.set_viewport_size({"width": WIDTHS[0], "height": 1000})
    settle(page)
    problems[f"{WIDTHS[-1]} → {WIDTHS[0]} px"] = layout_problems(page)
    assert not any(problems.values()), "\n".join(f"{k}: {p}" for k, found in problems.items() for p in found)

    # every trial's link opens its job view, which links back to the sweep
    page.set_viewport_size({"width": 1400, "height": 1000})
    trials = {job["id"]: job for job in alice.get("/v1/jobs", params={"sweep_id": sweep["id"]}).json()["data"]}
    assert sorted(trials) == sorted(job_id for cell in table for job_id in cell["job_ids"])
    for job_id, trial in trials.items():
        link = page.locator(f'#sweep-table a.trial-link[data-job-id="{job_id}"]')
        expect(link).to_have_text(f"seed {trial['spec']['seed']}")
        link.click()
        expect(page.locator("#job-title")).to_have_text(trial["name"] or job_id)
        expect(page.locator('[data-fact="origin"]')).to_have_text("sweep")
        expect(page.locator("#live-state")).to_have_attribute("data-stream", "ended")  # nothing left to abort
        page.click('[data-fact="sweep"] a')
        expect(page.locator("#sweep-title")).to_have_text(SWEEP["name"])
        wait_for_sweep_view(page)
    watched.assert_clean()


def test_a_running_sweep_view_follows_its_trials_and_cancels(
    stack: Stack, alice: httpx.Client, watched: WatchedPage
) -> None:
    created = alice.post("/v1/sweeps", json=LIVE_SWEEP)
    assert created.status_code == 201, created.text
    sweep = created.json()
    try:
        page = watched.page
        open_dashboard(page, stack, stack.keys["alice"], "#/sweeps")
        page.click(f'#sweeps-table tr[data-sweep-id="{sweep["id"]}"] a.sweep-link')
        expect(page.locator("#sweep-live")).to_have_attribute("data-refresh", "live")
        expect(page.locator("#sweep-cancel")).to_be_visible()
        first = page.locator('#sweep-table tr[data-cell="0"] a.trial-link')
        second = page.locator('#sweep-table tr[data-cell="1"] a.trial-link')
        first_status = page.locator('#sweep-table tr[data-cell="0"] .trial .badge')
        second_status = page.locator('#sweep-table tr[data-cell="1"] .trial .badge')
        expect(first_status).to_have_attribute("data-status", "running")
        expect(page.locator('[data-fact="counts"] [data-count="waiting"]')).to_have_text("1 waiting")
        expect(second).to_have_count(0)  # max_parallel 1: cell 1's trial waits for cell 0's

        # the first trial ends (cancelled through the API): the page shows the next one released, unasked
        first_id = first.get_attribute("data-job-id")
        assert first_id
        alice.post(f"/v1/jobs/{first_id}/cancel")
        expect(first_status).to_have_attribute("data-status", "cancelled")
        expect(second).to_have_count(1)
        watched.screenshot("ui-sweep-running")

        page.click("#sweep-cancel")
        expect(page.locator('[data-fact="status"] .badge')).to_have_attribute("data-status", "cancelled")
        expect(page.locator("#sweep-cancel")).to_be_hidden()
        expect(second_status).to_have_attribute("data-status", "cancelled")
        expect(page.locator("#sweep-live")).to_have_attribute("data-refresh", "ended")
        expect(page.locator("#sweep-best")).to_contain_text("no comparison yet")
        watched.screenshot("ui-sweep-cancelled")
    finally:
        alice.post(f"/v1/sweeps/{sweep['id']}/cancel")
    for trial in alice.get("/v1/jobs", params={"sweep_id": sweep["id"]}).json()["data"]:
        wait_for(alice, trial["id"], finished)
    watched.assert_clean()
