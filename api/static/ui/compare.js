// Several jobs' curves overlaid: one metric at a time, k-fold jobs as the mean over their folds.

import { api } from "./api.js";
import { align, foldMean, LineChart, PALETTE } from "./charts.js";
import { clear, FINAL_STATUSES, h, statusBadge } from "./dom.js";
import { reportError } from "./errors.js";

const METRICS = [
  "val_loss",
  "train_loss",
  "test_loss",
  "val_accuracy",
  "train_accuracy",
  "test_accuracy",
  "val_r2",
  "val_mae",
  "lr",
  "grad_norm",
];
const REFRESH_MS = 3000;
const MAX_POINTS = 1000;

export function showCompare(container, ids) {
  let disposed = false;
  let timer = null;
  const metric = h("select", { id: "compare-metric", "aria-label": "metric" }, METRICS.map((m) => h("option", { value: m }, m)));
  const legend = h("ul", { class: "compare-jobs", id: "compare-jobs" });
  const box = h("div", { class: "chart wide", id: "chart-compare" });
  container.append(
    h("p", {}, h("a", { href: "#/jobs" }, "← all jobs")),
    h("div", { class: "toolbar" }, h("h2", {}, `Compare ${ids.length} jobs`), metric),
    legend,
    box,
  );
  const chart = new LineChart(box, { title: "", yLabel: "" });
  metric.addEventListener("change", refresh);

  async function refresh() {
    clearTimeout(timer);
    const name = metric.value;
    try {
      const jobs = await Promise.all(ids.map((id) => api(`/v1/jobs/${encodeURIComponent(id)}`)));
      const metrics = await Promise.all(
        ids.map((id) => api(`/v1/jobs/${encodeURIComponent(id)}/metrics?names=${name}&max_points=${MAX_POINTS}`)),
      );
      if (disposed) return;
      const lines = jobs.map((job, i) => ({
        label: job.name ? `${job.name} (${job.id.slice(0, 6)})` : job.id.slice(0, 8),
        colour: PALETTE[i % PALETTE.length],
        points: foldMean(metrics[i].series),
      }));
      const { xs, series } = align(lines);
      chart.title = name;
      chart.yLabel = name;
      chart.setData(xs, series.filter((s) => s.points.size));
      clear(legend).append(
        ...jobs.map((job, i) =>
          h(
            "li",
            {},
            h("span", { class: "swatch", "data-colour": i % PALETTE.length }),
            h("a", { href: `#/jobs/${job.id}` }, lines[i].label),
            " ",
            statusBadge(job.status),
            job.progress.folds > 1 ? h("span", { class: "hint" }, ` mean of ${job.progress.folds} folds`) : null,
          ),
        ),
      );
      if (!disposed && jobs.some((job) => !FINAL_STATUSES.has(job.status))) timer = setTimeout(refresh, REFRESH_MS);
    } catch (error) {
      if (!disposed) reportError(error);
    }
  }

  refresh();
  return () => {
    disposed = true;
    clearTimeout(timer);
    chart.destroy();
  };
}
