// A sweep's comparison table: a row per cell with its grid values, how many of its trials succeeded,
// mean ± std over them of the best validation loss and score and of λmax, the verdicts counted and a
// link to each trial. A header with a button sorts by its column, on the mean for a statistic; the same
// header again reverses the order. Cells without a value sort last either way.

import { PALETTE } from "./charts.js";
import { fill, formatNumber, h, statusBadge, verdictBadge } from "./dom.js";

// the score shown beside the loss, the first that a cell reports: accuracy for classification, R² then MAE for regression
const SCORES = ["best_val_accuracy", "best_val_r2", "best_val_mae"];

// A grid value as written: a string bare, anything else (a number, a list, a merge patch) as JSON.
export function formatValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

// The spec paths a row has values for: the grid's keys, or the search space's.
export function parameterNames(sweep) {
  return Object.keys(sweep.search ? sweep.search.space : sweep.grid);
}

// A cell's value: a long float (a search's sampled lr has sixteen digits) at the table's precision, a
// grid's values as written.
function formatCellValue(value) {
  const long = typeof value === "number" && !Number.isInteger(value) && String(value).length > 8;
  return long ? formatNumber(value) : formatValue(value);
}

// "cell 1 (adam, 16)": its index and its grid values, the words the sweep's findings use.
export function cellLabel(row) {
  return `cell ${row.cell} (${Object.values(row.values).map(formatCellValue).join(", ")})`;
}

// The cell's colour in the chart, and its swatch's data-colour in the table.
export function cellColour(row) {
  return row.cell % PALETTE.length;
}

function formatStat(stat) {
  if (!stat || stat.mean === null) return "—";
  if (stat.std === null) return [formatNumber(stat.mean), h("span", { class: "hint" }, ` (n = ${stat.n})`)];
  return `${formatNumber(stat.mean)} ± ${formatNumber(stat.std)}`;
}

// The columns for this sweep: each with a key (its header's data-sort; none: not sortable), its
// header's words, a cell's contents and the value it sorts by.
function columns(sweep, trialsById) {
  const statColumn = (key, label, statOf) => ({
    key,
    label,
    className: "stat",
    contents: (row) => formatStat(statOf(row)),
    sortValue: (row) => statOf(row)?.mean ?? null,
  });
  const score = SCORES.find((name) => sweep.table.some((row) => row.metrics[name]));
  return [
    {
      key: "cell",
      label: "cell",
      contents: (row) => [h("span", { class: "swatch", "data-colour": cellColour(row) }), String(row.cell)],
      sortValue: (row) => row.cell,
    },
    ...parameterNames(sweep).map((name) => ({
      key: `value:${name}`,
      label: name,
      className: "value",
      contents: (row) => formatCellValue(row.values[name]),
      sortValue: (row) => (typeof row.values[name] === "number" ? row.values[name] : formatValue(row.values[name])),
    })),
    {
      key: "succeeded",
      label: "succeeded",
      contents: (row) => `${row.succeeded} / ${sweep.seeds.length}`,
      sortValue: (row) => row.succeeded,
    },
    statColumn("best_val_loss", "best val loss", (row) => row.metrics.best_val_loss),
    score ? statColumn(score, score.replace(/_/g, " "), (row) => row.metrics[score]) : null,
    statColumn("lambda_max", "λmax", (row) => row.lambda_max),
    { label: "verdicts", contents: verdictCounts },
    sweep.early_stop
      ? { key: "stopped_early", label: "stopped early", contents: (row) => String(row.stopped_early), sortValue: (row) => row.stopped_early }
      : null,
    { label: "trials", contents: (row) => trialLinks(row, sweep, trialsById) },
  ].filter(Boolean);
}

function verdictCounts(row) {
  const counted = Object.entries(row.verdicts || {});
  if (!counted.length) return "—";
  return h(
    "span",
    { class: "counts" },
    counted.map(([verdict, n]) => h("span", { class: "verdict-count", "data-verdict": verdict }, verdictBadge(verdict), ` ${n}`)),
  );
}

// A link per released trial, named by its seed, with its status; the trials not released yet, counted.
function trialLinks(row, sweep, trialsById) {
  const waiting = sweep.seeds.length - row.job_ids.length;
  return h(
    "span",
    { class: "trials" },
    row.job_ids.map((id) => {
      const trial = trialsById.get(id);
      const name = trial ? `seed ${trial.spec.seed}` : id.slice(0, 8);
      return h(
        "span",
        { class: "trial" },
        h("a", { href: `#/jobs/${id}`, class: "trial-link", "data-job-id": id }, name),
        " ",
        trial ? statusBadge(trial.status) : null,
      );
    }),
    waiting > 0 ? h("span", { class: "hint" }, `${waiting} waiting`) : null,
  );
}

// Numbers by value, anything else as text; null after everything else, whichever the direction.
function compareBy(sortValue, descending) {
  return (a, b) => {
    const x = sortValue(a);
    const y = sortValue(b);
    if (x === null || y === null) return (x === null) - (y === null) || a.cell - b.cell;
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return (descending ? -order : order) || a.cell - b.cell;
  };
}

// container: the element the table goes in. Returns {render(sweep, trials)}: trials are the sweep's
// jobs (GET /v1/jobs?sweep_id=), for the links' seeds and statuses.
export function cellTable(container) {
  let sort = { key: "cell", descending: false };
  let shown = null; // [sweep, trials] last rendered: a header click sorts them again
  const table = h("table", { id: "sweep-table", class: "listing" });
  container.append(h("div", { class: "table-scroll" }, table));

  function sortBy(key) {
    sort = { key, descending: sort.key === key ? !sort.descending : false };
    render(...shown);
    table.querySelector(`th[data-sort="${CSS.escape(key)}"] button`).focus();
  }

  function header(column) {
    if (!column.key) return h("th", {}, column.label);
    const sorted = sort.key === column.key;
    return h(
      "th",
      { "data-sort": column.key, "aria-sort": sorted ? (sort.descending ? "descending" : "ascending") : "none" },
      h("button", { type: "button", class: "link sort", onclick: () => sortBy(column.key) }, column.label),
    );
  }

  function render(sweep, trials) {
    shown = [sweep, trials];
    const trialsById = new Map(trials.map((trial) => [trial.id, trial]));
    const all = columns(sweep, trialsById);
    const by = all.find((column) => column.key === sort.key) || all[0];
    const rows = [...sweep.table].sort(compareBy(by.sortValue, sort.descending));
    fill(
      table,
      h("thead", {}, h("tr", {}, all.map(header))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            { "data-cell": row.cell },
            all.map((column) => h("td", { class: column.className, "data-column": column.key }, column.contents(row))),
          ),
        ),
        rows.length ? null : h("tr", {}, h("td", { colspan: all.length, class: "hint" }, "no cells")),
      ),
    );
  }

  return { render };
}
