// Line charts on uPlot (vendored under /static/vendor/uplot, loaded as the global `uPlot`).
// A chart keeps its uPlot instance while its series stay the same and only swaps the data,
// so live updates are cheap; a new set of series rebuilds it.

import { formatNumber, h } from "./dom.js";

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];
const SPLIT_COLOURS = { train: "#2563eb", val: "#dc2626", test: "#16a34a" };

export function splitColour(name) {
  return SPLIT_COLOURS[name.split("_")[0]] || PALETTE[3];
}

export class LineChart {
  // container gets data-points (x values plotted) and data-series (lines) for tests and people
  constructor(container, { title, yLabel, xLabel = "epoch" }) {
    this.container = container;
    this.title = title;
    this.yLabel = yLabel;
    this.xLabel = xLabel;
    this.plot = null;
    this.signature = "";
    this.empty = h("p", { class: "chart-empty" }, `${title}: no data yet`);
    container.append(this.empty);
    container.dataset.points = "0";
    container.dataset.series = "0";
    this.onResize = () => this.plot && this.plot.setSize(this.size());
    window.addEventListener("resize", this.onResize);
  }

  size() {
    return { width: Math.max(300, this.container.clientWidth - 8), height: 240 };
  }

  // xs: ascending x values (epochs unless xLabel says otherwise); series: [{label, values (aligned with xs, null for a gap), colour, dash}]
  setData(xs, series) {
    const signature = [this.title, ...series.map((s) => `${s.label}|${s.colour}`)].join(",");
    const data = [xs, ...series.map((s) => s.values)];
    if (!series.length) {
      this.destroyPlot();
    } else if (this.plot && signature === this.signature) {
      this.plot.setData(data);
    } else {
      this.destroyPlot();
      this.signature = signature;
      this.empty.remove();
      this.plot = new uPlot(this.options(series), data, this.container);
    }
    this.container.dataset.points = String(xs.length);
    this.container.dataset.series = String(series.length);
  }

  options(series) {
    return {
      ...this.size(),
      title: this.title,
      scales: { x: { time: false } },
      axes: [{ label: this.xLabel }, { label: this.yLabel, size: 70, values: (_, ticks) => ticks.map(formatNumber) }],
      series: [
        { label: this.xLabel },
        ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 1.5, dash: s.dash, spanGaps: true })),
      ],
    };
  }

  destroyPlot() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.signature = "";
    if (!this.empty.isConnected) this.container.append(this.empty);
  }

  destroy() {
    window.removeEventListener("resize", this.onResize);
    this.destroyPlot();
  }
}

// Aligns {label → Map(epoch → value)} on the union of their epochs.
export function align(lines) {
  const epochs = new Set();
  for (const line of lines) for (const epoch of line.points.keys()) epochs.add(epoch);
  const xs = [...epochs].sort((a, b) => a - b);
  return {
    xs,
    series: lines.map((line) => ({ ...line, values: xs.map((x) => (line.points.has(x) ? line.points.get(x) : null)) })),
  };
}
