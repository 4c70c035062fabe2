// Tiny DOM helpers: every user-supplied string goes in as text, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Replaces el's children; like h(), nested arrays are flattened and null/false skipped.
export function fill(el, ...children) {
  clear(el);
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// The contents of a <dl class="facts"> from [name, value] pairs: each pair in a <div> of its own, so
// a narrow card wraps whole pairs instead of pushing a value out of it; each <dd> has data-fact=name.
export function factItems(items) {
  return items.map(([name, value]) => h("div", {}, h("dt", {}, name), h("dd", { "data-fact": name }, value ?? "—")));
}

export const FINAL_STATUSES = new Set(["succeeded", "failed", "cancelled"]);

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}`, "data-status": status }, status);
}

// The diagnosis's one-word answer; a provisional one (probe jobs still running) is drawn dashed.
export function verdictBadge(verdict, { provisional = false } = {}) {
  return h(
    "span",
    { class: `badge verdict verdict-${verdict}` + (provisional ? " provisional" : ""), "data-verdict": verdict },
    verdict.replace(/_/g, " "),
  );
}

export function formatNumber(value) {
  if (value === undefined || value === null || Number.isNaN(value)) return "—";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(3);
  return value.toPrecision(4).replace(/\.?0+$/, "");
}

// SQLite hands timestamps back without their zone; they are UTC.
export function parseTime(iso) {
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
}

export function formatDuration(startIso, endIso) {
  if (!startIso) return "—";
  const end = endIso ? parseTime(endIso) : Date.now();
  const seconds = Math.max(0, Math.round((end - parseTime(startIso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

// The validation score a job is best judged by: accuracy for classification, R² then MAE for
// regression, the loss otherwise. Returns [name, value] or null.
export function bestValidation(summary) {
  const best = summary && summary.best_metrics;
  if (!best) return null;
  for (const name of ["val_accuracy", "val_r2", "val_mae", "val_loss"]) {
    if (typeof best[name] === "number") return [name, best[name]];
  }
  return null;
}
