// Each cell's validation loss by epoch: the mean over its succeeded trials as a line, mean ± the sample
// standard deviation as a band around it (none at an epoch only one trial reached), on the job view's chart.

import { api } from "./api.js";
import { align, foldMean, LineChart, PALETTE } from "./charts.js";
import { cellColour, cellLabel } from "./sweep_table.js";

const METRIC = "val_loss";
const MAX_POINTS = 1000;

// Mean and sample standard deviation (n - 1, as the API's table has it; null below two) per epoch.
function meanAndStd(curves) {
  const epochs = new Set(curves.flatMap((curve) => [...curve.keys()]));
  const mean = new Map();
  const std = new Map();
  for (const epoch of epochs) {
    const values = curves.filter((curve) => curve.has(epoch)).map((curve) => curve.get(epoch));
    const m = values.reduce((sum, v) => sum + v, 0) / values.length;
    mean.set(epoch, m);
    if (values.length > 1) std.set(epoch, Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1)));
  }
  return { mean, std };
}

// box: the chart's container. Returns {load(trials), draw(sweep), destroy()}.
export function cellCurves(box) {
  const chart = new LineChart(box, { title: "validation loss: mean ± std over seeds", yLabel: METRIC });
  const curves = new Map(); // job id → Map(epoch → value); a succeeded trial's series are final: fetched once

  // Fetches the series of the trials that succeeded since the last call.
  async function load(trials) {
    const fresh = trials.filter((trial) => trial.status === "succeeded" && !curves.has(trial.id));
    const answers = await Promise.all(
      fresh.map((trial) => api(`/v1/jobs/${encodeURIComponent(trial.id)}/metrics?names=${METRIC}&max_points=${MAX_POINTS}`)),
    );
    fresh.forEach((trial, i) => curves.set(trial.id, foldMean(answers[i].series)));
  }

  function draw(sweep) {
    const cells = sweep.table
      .map((row) => ({ row, stats: meanAndStd(row.job_ids.filter((id) => curves.has(id)).map((id) => curves.get(id))) }))
      .filter(({ stats }) => stats.mean.size);
    const { xs, series } = align(
      cells.map(({ row, stats }) => ({ label: cellLabel(row), colour: PALETTE[cellColour(row)], points: stats.mean })),
    );
    const edge = (stats, sign) =>
      xs.map((x) => (stats.std.has(x) ? stats.mean.get(x) + sign * stats.std.get(x) : null));
    const bands = cells.map(({ row, stats }) => ({
      label: cellLabel(row),
      colour: PALETTE[cellColour(row)],
      upper: edge(stats, 1),
      lower: edge(stats, -1),
    }));
    chart.setData(xs, series, bands);
  }

  return { load, draw, destroy: () => chart.destroy() };
}
