// Line charts on uPlot (vendored under /static/vendor/uplot, loaded as the global `uPlot`).
// A chart keeps its uPlot instance while its series stay the same and only swaps the data,
// so live updates are cheap; a new set of series rebuilds it. uPlot draws at a fixed pixel size,
// so the chart follows its container's width: one sized once would keep the width of a layout
// that has since changed (a panel appearing beside it, a window resized) and spill over its neighbours.
// A band (a sweep cell's mean ± std, say) is the area between two series of its own that draw no line.

import { formatNumber, h } from "./dom.js";

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];
const SPLIT_COLOURS = { train: "#2563eb", val: "#dc2626", test: "#16a34a" };
const HEIGHT = 240;
const MIN_WIDTH = 120; // a hidden container measures 0: the plot is drawn anyway and refitted once shown

export function splitColour(name) {
  return SPLIT_COLOURS[name.split("_")[0]] || PALETTE[3];
}

export class LineChart {
  // container gets data-points (x values plotted), data-series (lines) and data-bands for tests and people
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
    container.dataset.bands = "0";
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

  // xs: ascending x values (epochs unless xLabel says otherwise); series: [{label, values (aligned with xs,
  // null for a gap), colour, dash}]; bands: [{label, colour, lower, upper (aligned with xs)}]
  setData(xs, series, bands = []) {
    const signature = [
      this.title,
      ...series.map((s) => `${s.label}|${s.colour}`),
      ...bands.map((b) => `band ${b.label}|${b.colour}`),
    ].join(",");
    const data = [xs, ...series.map((s) => s.values), ...bands.flatMap((b) => [b.upper, b.lower])];
    if (!series.length) {
      this.destroyPlot();
    } else if (this.plot && signature === this.signature) {
      this.plot.setData(data);
    } else {
      this.destroyPlot();
      this.signature = signature;
      this.empty.remove();
      this.plot = new uPlot(this.options(series, bands), data, this.container);
    }
    this.container.dataset.points = String(xs.length);
    this.container.dataset.series = String(series.length);
    this.container.dataset.bands = String(series.length ? bands.length : 0);
  }

  options(series, bands) {
    // a band's edges: series of their own (uPlot fills between two series) with no line, no points and
    // no legend row (the class hides it), so the legend and the cursor speak of the lines alone
    const edge = (label) => ({ label, stroke: "transparent", points: { show: false }, class: "band-edge" });
    const first = 1 + series.length; // data[0] is x
    return {
      ...this.size(),
      title: this.title,
      scales: { x: { time: false } },
      axes: [{ label: this.xLabel }, { label: this.yLabel, size: 70, values: (_, ticks) => ticks.map(formatNumber) }],
      series: [
        { label: this.xLabel },
        ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 1.5, dash: s.dash, spanGaps: true })),
        ...bands.flatMap((b) => [edge(`${b.label} upper`), edge(`${b.label} lower`)]),
      ],
      bands: bands.map((b, i) => ({ series: [first + 2 * i, first + 2 * i + 1], fill: `${b.colour}33` })), // 20 % opaque
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

// Mean over folds per epoch of a job's series (GET /v1/jobs/{id}/metrics): a k-fold job is one line like any other.
export function foldMean(series) {
  const sums = new Map();
  for (const s of series) {
    for (const p of s.points) {
      const [sum, n] = sums.get(p.epoch) || [0, 0];
      sums.set(p.epoch, [sum + p.value, n + 1]);
    }
  }
  return new Map([...sums].map(([epoch, [sum, n]]) => [epoch, sum / n]));
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
