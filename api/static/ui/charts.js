// Line charts on uPlot (vendored under /static/vendor/uplot, loaded as the global `uPlot`).
// A chart keeps its uPlot instance while its series stay the same and only swaps the data,
// so live updates are cheap; a new set of series rebuilds it. uPlot draws at a fixed pixel size,
// so the chart follows its container's width: one sized once would keep the width of a layout
// that has since changed (a panel appearing beside it, a window resized) and spill over its neighbours.

import { formatNumber, h } from "./dom.js";

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];
const SPLIT_COLOURS = { train: "#2563eb", val: "#dc2626", test: "#16a34a" };
const HEIGHT = 240;
const MIN_WIDTH = 120; // a hidden container measures 0: the plot is drawn anyway and refitted once shown

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
    // resized in the next frame, not in the observer's callback: the new plot changes the
    // container's height, which the observer would otherwise report as a loop
    this.resizer = new ResizeObserver(() => requestAnimationFrame(() => this.fit()));
    this.resizer.observe(container);
  }

  // the container's content box: its width less its padding
  size() {
    const style = getComputedStyle(this.container);
    const width = this.container.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return { width: Math.max(MIN_WIDTH, Math.floor(width)), height: HEIGHT };
  }

  fit() {
    if (!this.plot) return;
    const size = this.size();
    if (size.width !== this.plot.width) this.plot.setSize(size);
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
    this.resizer.disconnect();
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
