// What mattered in a sweep: each parameter's importance as a bar with its best region (GET
// /v1/sweeps/{id}/importance), and the configurations in parallel coordinates — a vertical axis per
// parameter, most important first, and one for the objective, a line per configuration coloured by its
// objective (green the best, red the worst). Plain DOM and an inline SVG.

import { fill, formatNumber, h } from "./dom.js";
import { formatValue, parameterNames } from "./sweep_table.js";

const SVG = "http://www.w3.org/2000/svg";
const AXIS_GAP = 150; // px between axes: room for a path's name and a tick label
const HEIGHT = 240;
const PAD = { top: 28, bottom: 22, side: 60 };
const OBJECTIVE = "best_val_loss";

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== null) el.textContent = text;
  return el;
}

// "[0.001, 0.03]" for a range's best region, the value as written for a choice's.
function formatBest(parameter) {
  if (parameter.kind === "range") return `[${parameter.best.map(formatNumber).join(", ")}]`;
  return formatValue(parameter.best);
}

// An axis for a path: a range maps its value between its ends (on a log scale for loguniform and log
// ints), a choice (or a grid's values) its index among the choices, spread evenly.
function axisFor(sweep, path) {
  const distribution = sweep.search ? sweep.search.space[path] : { choice: sweep.grid[path] };
  if (distribution.choice) {
    const keys = distribution.choice.map((value) => JSON.stringify(value));
    const last = Math.max(keys.length - 1, 1);
    return {
      path,
      position: (value) => keys.indexOf(JSON.stringify(value)) / last,
      ticks: distribution.choice.map((value, i) => [i / last, formatValue(value)]),
    };
  }
  const kind = ["uniform", "loguniform", "int"].find((key) => distribution[key]);
  const [low, high] = distribution[kind];
  const log = kind === "loguniform" || distribution.log;
  const scale = log ? Math.log : (x) => x;
  return {
    path,
    position: (value) => (scale(value) - scale(low)) / (scale(high) - scale(low)),
    ticks: [
      [0, formatNumber(low)],
      [1, formatNumber(high)],
    ],
  };
}

function objectiveColour(t) {
  return `hsl(${Math.round(120 * (1 - t))}, 70%, 40%)`; // t = 0 the best objective, 1 the worst
}

function parallelCoordinates(sweep, order) {
  const rows = sweep.table.filter((row) => row.metrics[OBJECTIVE]?.mean != null);
  if (rows.length < 2) return h("p", { class: "hint", id: "parallel-coordinates-empty" }, "parallel coordinates: too few finished configurations yet");
  const objectives = rows.map((row) => row.metrics[OBJECTIVE].mean);
  const low = Math.min(...objectives);
  const high = Math.max(...objectives);
  const spread = high - low || 1;
  const axes = [
    ...order.map((path) => axisFor(sweep, path)),
    {
      path: "objective",
      position: (value) => (value - low) / spread,
      ticks: [
        [0, formatNumber(low)],
        [1, formatNumber(high)],
      ],
    },
  ];
  const width = PAD.side * 2 + AXIS_GAP * (axes.length - 1);
  const plot = HEIGHT - PAD.top - PAD.bottom;
  const x = (i) => PAD.side + i * AXIS_GAP;
  const y = (t) => PAD.top + (1 - Math.min(Math.max(t, 0), 1)) * plot; // the low end at the bottom
  const root = svg("svg", {
    id: "parallel-coordinates",
    class: "parallel-coordinates",
    viewBox: `0 0 ${width} ${HEIGHT}`,
    width,
    height: HEIGHT,
    role: "img",
    "aria-label": "configurations in parallel coordinates: parameters, then the objective",
  });
  // the worst first, so the best lines are drawn over them
  const ranked = rows.map((row, i) => [row, objectives[i]]).sort((a, b) => b[1] - a[1]);
  for (const [row, objective] of ranked) {
    const values = [...order.map((path) => row.values[path]), objective];
    const points = axes.map((axis, i) => `${x(i)},${y(axis.position(values[i]))}`).join(" ");
    const line = svg("polyline", {
      class: "pc-line",
      "data-cell": row.cell,
      "data-objective": objective,
      points,
      fill: "none",
      stroke: objectiveColour((objective - low) / spread),
      "stroke-width": 1.5,
    });
    line.append(svg("title", {}, `cell ${row.cell}: ${OBJECTIVE} ${formatNumber(objective)}`));
    root.append(line);
  }
  axes.forEach((axis, i) => {
    const group = svg("g", { class: "pc-axis", "data-axis": axis.path });
    group.append(svg("line", { x1: x(i), x2: x(i), y1: y(1), y2: y(0), stroke: "#64748b" }));
    group.append(svg("text", { x: x(i), y: PAD.top - 12, "text-anchor": "middle", class: "pc-name" }, axis.path === "objective" ? "val_loss" : axis.path));
    for (const [t, label] of axis.ticks) {
      group.append(svg("text", { x: x(i) + 4, y: y(t) + 4, class: "pc-tick" }, label));
    }
    root.append(group);
  });
  return root;
}

// container: where the section goes. Returns {render(sweep, importance)}; importance may be null (not read yet).
export function importanceView(container) {
  const section = h("section", { class: "card", id: "sweep-importance" });
  container.append(section);

  function bars(importance) {
    if (!importance) return h("p", { class: "hint" }, "loading…");
    if (!importance.parameters.length) return h("p", { class: "hint", id: "importance-reason" }, importance.reason || "no importances");
    return h(
      "ol",
      { class: "importance-bars", id: "importance-bars" },
      importance.parameters.map((parameter) => {
        const percent = Math.round(parameter.importance * 1000) / 10;
        const bar = h("span", { class: "importance-fill" });
        bar.style.width = `${percent}%`;
        return h(
          "li",
          { class: "importance-bar", "data-path": parameter.path, "data-importance": parameter.importance },
          h("span", { class: "importance-name" }, parameter.path),
          h("span", { class: "importance-track" }, bar),
          h("span", { class: "importance-value" }, `${percent}%`),
          h("span", { class: "hint importance-best", "data-best": JSON.stringify(parameter.best) }, `best ${formatBest(parameter)}`),
        );
      }),
    );
  }

  function render(sweep, importance) {
    const ranked = importance?.parameters.map((parameter) => parameter.path) ?? [];
    const order = [...ranked, ...parameterNames(sweep).filter((path) => !ranked.includes(path))];
    const method = importance ? ` (${importance.evaluator === "ped_anova" ? "PED-ANOVA" : "fANOVA"}, ${importance.configurations} configurations)` : "";
    fill(
      section,
      h("h3", {}, `What mattered${method}`),
      bars(importance),
      h("div", { class: "parallel-box" }, parallelCoordinates(sweep, order)),
    );
  }

  return { render };
}
