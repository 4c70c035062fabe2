"""A search sweep in the dashboard: its facts describe the space and the sampler, its table has a row per
configuration drawn, with a column per searched path showing the values the sampler drew, and what mattered
shows the API's importances as bars and the configurations in parallel coordinates."""

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
    spent = sweep["accounting"]
    expect(facts.locator('[data-fact="epochs trained"]')).to_have_text(
        f"{spent['epochs_trained']} of {spent['epochs_full']} ({round(spent['fraction'] * 100)}%)"
    )

    expect(page.locator("#sweep-table tbody tr[data-cell]")).to_have_count(3)
    for row in sweep["table"]:
        shown = page.locator(f'#sweep-table tr[data-cell="{row["cell"]}"]')
        lr = shown.locator('[data-column="value:optimizer.lr"]').inner_text()
        assert float(lr) == pytest.approx(row["values"]["optimizer.lr"], rel=1e-2), (lr, row["values"])
        hidden = shown.locator('[data-column="value:model.hidden"]')
        expect(hidden).to_have_text(str(row["values"]["model.hidden"]).replace(" ", ""))

    importance = alice.get(f"/v1/sweeps/{sweep['id']}/importance").json()
    if importance["parameters"]:
        bars = page.locator("#importance-bars li.importance-bar")
        expect(bars).to_have_count(len(importance["parameters"]))
        for shown, parameter in zip(bars.all(), importance["parameters"], strict=True):
            assert shown.get_attribute("data-path") == parameter["path"], "most important first, as the API ranks"
            assert float(shown.get_attribute("data-importance") or "nan") == pytest.approx(parameter["importance"])
    else:  # the sampler drew one width for all three: only the learning rate varies
        expect(page.locator("#importance-reason")).to_have_text(importance["reason"])
    chart = page.locator("svg#parallel-coordinates")
    expect(chart.locator("polyline.pc-line")).to_have_count(3)
    expect(chart.locator("g.pc-axis")).to_have_count(len(SEARCH["search"]["space"]) + 1)
    expect(chart.locator('g.pc-axis[data-axis="objective"]')).to_have_count(1)
    for row in sweep["table"]:
        line = chart.locator(f'polyline.pc-line[data-cell="{row["cell"]}"]')
        objective = float(line.get_attribute("data-objective") or "nan")
        assert objective == pytest.approx(row["metrics"]["best_val_loss"]["mean"])
    watched.screenshot("ui-sweep-search")
    watched.assert_clean()


def test_a_sweep_with_asha_shows_its_rungs_and_the_trials_it_stopped(
    stack: Stack, alice: httpx.Client, watched: WatchedPage
) -> None:
    base = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "optimizer": {"name": "adam"}, "epochs": 9}
    body = {
        "name": "ui-asha",
        "base": {**base, "batch_size": 16},
        "grid": {"optimizer.lr": [0.01, 0.03, 0.003, 1e-5, 1e-6]},  # the hopeless rates last: stopped at rung 0
        "seeds": [0],
        "max_parallel": 2,
        "early_stop": {"asha": {"min_epochs": 1, "reduction_factor": 3}},
    }
    created = alice.post("/v1/sweeps", json=body)
    assert created.status_code == 201, created.text
    sweep = wait_for_sweep(alice, created.json()["id"], timeout=600)
    assert sweep["status"] == "succeeded" and sweep["accounting"]["stopped_early"] >= 1, sweep["accounting"]

    page = watched.page
    open_dashboard(page, stack, stack.keys["alice"], f"#/sweeps/{sweep['id']}")
    expect(page.locator("#sweep-live")).to_have_attribute("data-refresh", "ended")
    facts = page.locator("#sweep-facts")
    expect(facts.locator('[data-fact="early stop"]')).to_have_text(
        "ASHA on val_loss: rungs at epochs 1, 3; the top 1/3 go on"
    )
    spent = sweep["accounting"]
    expect(facts.locator('[data-fact="epochs trained"]')).to_contain_text(
        f"{spent['stopped_early']} trials stopped early"
    )
    for row in sweep["table"]:
        shown = page.locator(f'#sweep-table tr[data-cell="{row["cell"]}"] [data-column="stopped_early"]')
        expect(shown).to_have_text(str(row["stopped_early"]))
    watched.assert_clean()
