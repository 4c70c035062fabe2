// One sweep: its facts, the best cell against the runner-up, the comparison table with a link to every
// trial, each cell's mean validation-loss curve and the comparative findings; asked again every
// REFRESH_MS while it runs (a sweep has no events stream: its trials' own streams would be one per job).

import { api } from "./api.js";
import { renderFinding } from "./diagnosis.js";
import { factItems, FINAL_STATUSES, fill, formatDuration, formatNumber, h, statusBadge } from "./dom.js";
import { reportError } from "./errors.js";
import { cellCurves } from "./sweep_curves.js";
import { importanceView } from "./sweep_importance.js";
import { cellLabel, cellTable, formatValue } from "./sweep_table.js";
import { countBadges } from "./sweeps.js";

const REFRESH_MS = 2000;
const TRIALS_PAGE = 200; // the API's largest `limit`

// The comparison in words: which cell leads which on what, by how much, and whether Welch's test tells
// the lead apart from the seed-to-seed noise.
// "optimizer.lr ~ loguniform [0.00001, 1]; model.hidden ∈ {[64], [128,128]}; random, 40 configurations, seed 0"
function searchLine(search) {
  const dimension = ([name, distribution]) => {
    if (distribution.choice) return `${name} ∈ {${distribution.choice.map(formatValue).join(", ")}}`;
    const kind = ["uniform", "loguniform", "int"].find((key) => distribution[key]);
    const [low, high] = distribution[kind].map(formatNumber);
    return `${name} ~ ${kind}${distribution.log ? " (log)" : ""} [${low}, ${high}]`;
  };
  const dimensions = Object.entries(search.space).map(dimension).join("; ");
  return `${dimensions}; ${search.sampler}, ${search.trials} configurations, seed ${search.seed}`;
}

function comparisonLine(sweep) {
  const best = sweep.best;
  if (!best) return "no comparison yet: no cell has a succeeded trial";
  const cells = new Map(sweep.table.map((row) => [row.cell, row]));
  const metric = best.metric.replace(/_/g, " ");
  const leader = cellLabel(cells.get(best.best_cell));
  if (best.runner_up === null) return `${leader} has the lowest ${metric}; no other cell has results to compare it with`;
  const lead = `${leader} leads ${cellLabel(cells.get(best.runner_up))} by ${formatNumber(best.difference)} ${metric}`;
  if (best.p_value === null) return `${lead}: not separable, too few seeds for Welch's test`;
  const test = `(Welch p = ${formatNumber(best.p_value)})`;
  return best.separable ? `${lead} ${test}` : `${lead} ${test}: not separable from the seed-to-seed noise`;
}

// "84 of 240 (35%)": what the trials trained against every trial run to its last epoch.
function accountingLine(accounting) {
  if (!accounting) return "—";
  const share = accounting.fraction === null ? "" : ` (${Math.round(accounting.fraction * 100)}%)`;
  const stopped = accounting.stopped_early ? `; ${accounting.stopped_early} trials stopped early` : "";
  return `${accounting.epochs_trained} of ${accounting.epochs_full}${share}${stopped}`;
}

// "ASHA on val_loss: rungs at epochs 1, 3, 9; the top 1/3 go on"
function earlyStopLine(sweep) {
  const asha = sweep.early_stop.asha;
  const rungs = [];
  for (let epoch = asha.min_epochs; epoch < sweep.base.epochs; epoch *= asha.reduction_factor) rungs.push(epoch);
  return `ASHA on ${asha.metric}: rungs at epochs ${rungs.join(", ")}; the top 1/${asha.reduction_factor} go on`;
}

export function showSweep(container, sweepId) {
  const path = `/v1/sweeps/${encodeURIComponent(sweepId)}`;
  let sweep = null;
  let disposed = false;
  let timer = null;
  let runs = 0; // the latest refresh: a cancel asks again at once, and the poll it overtook is dropped

  const title = h("h2", { id: "sweep-title" }, "sweep");
  const cancel = h("button", { id: "sweep-cancel", type: "button", hidden: true, onclick: cancelSweep }, "Cancel sweep");
  const live = h("span", { class: "hint", id: "sweep-live", "data-refresh": "loading" });
  const facts = h("dl", { class: "facts", id: "sweep-facts" });
  const comparison = h("p", { class: "comparison", id: "sweep-best" });
  const cells = h("section", { id: "sweep-cells" });
  const chartBox = h("div", { class: "chart", id: "chart-sweep" });
  const findings = h("section", { class: "card", id: "sweep-findings" });
  container.append(
    h("p", {}, h("a", { href: "#/sweeps" }, "← all sweeps")),
    h("div", { class: "toolbar" }, title, cancel, live),
    facts,
    comparison,
    cells,
    h("div", { class: "cards" }, chartBox, findings),
  );
  cells.append(h("h3", {}, "Cells"));
  const table = cellTable(cells);
  const curves = cellCurves(chartBox);
  const mattered = importanceView(container);
  let importance = null;
  let importanceOf = null; // the ended trials' count it was read at: asked again only when one more ended

  function render(trials) {
    const cellCount = sweep.search
      ? sweep.search.trials
      : sweep.table.length || Object.values(sweep.grid).reduce((n, values) => n * values.length, 1);
    fill(
      facts,
      factItems([
        ["status", statusBadge(sweep.status)],
        ["trials", `${sweep.trials}: ${cellCount} ${sweep.search ? "configurations" : "cells"} × ${sweep.seeds.length} seeds`],
        ["counts", h("span", { class: "counts" }, countBadges(sweep.counts))],
        sweep.search
          ? ["search", searchLine(sweep.search)]
          : ["grid", Object.entries(sweep.grid).map(([name, values]) => `${name} ∈ {${values.map(formatValue).join(", ")}}`).join("; ")],
        ["seeds", sweep.seeds.join(", ")],
        ["max parallel", String(sweep.max_parallel)],
        ["dataset", sweep.base.dataset.name],
        ["epochs", String(sweep.base.epochs)],
        sweep.early_stop ? ["early stop", earlyStopLine(sweep)] : null,
        ["epochs trained", accountingLine(sweep.accounting)],
        ["duration", formatDuration(sweep.created_at, sweep.finished_at)],
      ].filter(Boolean)),
    );
    cancel.hidden = sweep.status !== "running";
    comparison.textContent = comparisonLine(sweep);
    comparison.dataset.separable = String(sweep.best ? sweep.best.separable : null);
    table.render(sweep, trials);
    curves.draw(sweep);
    mattered.render(sweep, importance);
    fill(
      findings,
      h("h3", {}, "Findings"),
      sweep.findings.length
        ? sweep.findings.map((finding) => {
            const shown = renderFinding(finding);
            if (finding.remedy) {
              shown.append(h("p", { class: "hint" }, "suggested change to the base spec: ", h("code", {}, JSON.stringify(finding.remedy))));
            }
            return shown;
          })
        : h("p", { class: "hint" }, sweep.status === "running" ? "none yet: the trials are still running" : "none"),
    );
  }

  // every trial, following next_cursor: a sweep may have more than a page
  async function loadTrials() {
    const trials = [];
    let cursor = null;
    do {
      const params = new URLSearchParams({ sweep_id: sweepId, limit: String(TRIALS_PAGE) });
      if (cursor) params.set("cursor", cursor);
      const page = await api(`/v1/jobs?${params}`);
      trials.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return trials;
  }

  // The sweep before its trials: once it has ended, so have the trials read after it.
  async function refresh() {
    clearTimeout(timer);
    const run = ++runs;
    let again = true;
    try {
      const current = await api(path);
      const trials = await loadTrials();
      await curves.load(trials);
      const ended = current.counts.succeeded + current.counts.failed + current.counts.cancelled;
      if (ended !== importanceOf) {
        importance = await api(`${path}/importance`);
        importanceOf = ended;
      }
      if (disposed || run !== runs) return;
      sweep = current;
      title.textContent = sweep.name || sweep.id;
      document.title = `${sweep.name || sweep.id} — trainwell`;
      render(trials);
      // a cancelled sweep's trials may still be cancelling: asked again until each has ended too
      again = sweep.status === "running" || trials.some((trial) => !FINAL_STATUSES.has(trial.status));
      live.textContent = again ? "live" : "";
      live.dataset.refresh = again ? "live" : "ended";
    } catch (error) {
      if (disposed || run !== runs) return;
      reportError(error);
      again = !(error.status >= 400 && error.status < 500); // a refused or missing sweep stays so
    }
    if (again && !disposed) timer = setTimeout(refresh, REFRESH_MS);
  }

  async function cancelSweep() {
    cancel.disabled = true;
    try {
      await api(`${path}/cancel`, { method: "POST" });
      await refresh();
    } catch (error) {
      reportError(error);
    } finally {
      cancel.disabled = false;
    }
  }

  refresh();
  return () => {
    disposed = true;
    clearTimeout(timer);
    curves.destroy();
  };
}
