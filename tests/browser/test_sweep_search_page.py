"""A search sweep in the dashboard: its facts describe the space and the sampler, and its table has a row
per configuration drawn, with a column per searched path showing the values the sampler drew."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WatchedPage
from tests.browser.dashboard import open_dashboard
from tests.stack import Stack, wait_for_sweep

pytestmark = [pytest.mark.service, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]

SEARCH: dict[str, Any] = {
    "name": "ui-search",
    "base": {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 2},
    "search": {
        "space": {"optimizer.lr": {"loguniform": [1e-3, 0.3]}, "model.hidden": {"choice": [[8], [16, 16]]}},
        "sampler": "random",
        "trials": 3,
        "seed": 1,
    },
    "seeds": [0],
}


def test_a_search_sweep_shows_its_space_and_each_configurations_values(
    stack: Stack, alice: httpx.Client, watched: WatchedPage
) -> None:
    created = alice.post("/v1/sweeps", json=SEARCH)
    assert created.status_code == 201, created.text
    sweep = wait_for_sweep(alice, created.json()["id"])
    assert sweep["status"] == "succeeded", sweep

    page = watched.page
    open_dashboard(page, stack, stack.keys["alice"], "#/sweeps")
    page.click(f'#sweeps-table tr[data-sweep-id="{sweep["id"]}"] a.sweep-link')
    expect(page.locator("#sweep-title")).to_have_text(SEARCH["name"])
    expect(page.locator("#sweep-live")).to_have_attribute("data-refresh", "ended")
    facts = page.locator("#sweep-facts")
    expect(facts).to_contain_text("optimizer.lr ~ loguniform")
    expect(facts).to_contain_text("random, 3 configurations, seed 1")
    expect(facts).to_contain_text("3: 3 configurations × 1 seeds")

    expect(page.locator("#sweep-table tbody tr[data-cell]")).to_have_count(3)
    for row in sweep["table"]:
        shown = page.locator(f'#sweep-table tr[data-cell="{row["cell"]}"]')
        lr = shown.locator('[data-column="value:optimizer.lr"]').inner_text()
        assert float(lr) == pytest.approx(row["values"]["optimizer.lr"], rel=1e-2), (lr, row["values"])
        hidden = shown.locator('[data-column="value:model.hidden"]')
        expect(hidden).to_have_text(str(row["values"]["model.hidden"]).replace(" ", ""))
    watched.screenshot("ui-sweep-search")
    watched.assert_clean()
