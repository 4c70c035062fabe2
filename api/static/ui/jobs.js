// The jobs table: name, status, progress, best validation score, duration; filtered by status,
// refreshed every REFRESH_MS, with rows picked for the compare view.

import { api } from "./api.js";
import { bestValidation, clear, formatDuration, formatNumber, h, parseTime, statusBadge } from "./dom.js";
import { reportError } from "./errors.js";

const REFRESH_MS = 2000;
const STATUSES = ["queued", "running", "cancelling", "succeeded", "failed", "cancelled"];
const FILTER_STORAGE = "trainwell.statusFilter";
const picked = new Set(); // kept across visits within the page's life

export function showJobs(container) {
  let timer = null;
  let disposed = false;
  const filter = h(
    "select",
    { id: "status-filter", "aria-label": "status filter" },
    h("option", { value: "" }, "all statuses"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  filter.value = sessionStorage.getItem(FILTER_STORAGE) || "";
  const compare = h("button", { id: "compare-picked", type: "button", disabled: true }, "Compare");
  const body = h("tbody");
  const table = h(
    "table",
    { id: "jobs-table", class: "jobs" },
    h(
      "thead",
      {},
      h("tr", {}, ["", "name", "status", "progress", "best validation", "duration", "created"].map((c) => h("th", {}, c))),
    ),
    body,
  );
  container.append(
    h("div", { class: "toolbar" }, h("h2", {}, "Jobs"), filter, compare),
    table,
    h("p", { class: "hint", id: "jobs-updated" }),
  );

  const updateCompare = () => {
    compare.disabled = picked.size < 1;
    compare.textContent = `Compare (${picked.size})`;
  };
  compare.addEventListener("click", () => {
    location.hash = `#/compare?ids=${[...picked].join(",")}`;
  });
  filter.addEventListener("change", () => {
    sessionStorage.setItem(FILTER_STORAGE, filter.value);
    refresh();
  });

  function row(job) {
    const best = bestValidation(job.summary);
    const box = h("input", {
      type: "checkbox",
      class: "pick",
      "aria-label": `pick ${job.name || job.id} for comparison`,
      checked: picked.has(job.id),
      onchange: (event) => {
        if (event.target.checked) picked.add(job.id);
        else picked.delete(job.id);
        updateCompare();
      },
    });
    const p = job.progress;
    const progress = `${p.epoch}/${p.epochs}` + (p.folds > 1 ? ` · fold ${p.fold + 1}/${p.folds}` : "");
    return h(
      "tr",
      { "data-job-id": job.id },
      h("td", {}, box),
      h("td", {}, h("a", { href: `#/jobs/${job.id}`, class: "job-link" }, job.name || job.id.slice(0, 8))),
      h("td", { class: "status" }, statusBadge(job.status)),
      h("td", {}, progress),
      h("td", { class: "best" }, best ? `${best[0]} ${formatNumber(best[1])}` : "—"),
      h("td", {}, formatDuration(job.started_at, job.finished_at)),
      h("td", { class: "hint" }, new Date(parseTime(job.created_at)).toLocaleString()),
    );
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const params = new URLSearchParams({ limit: "100" });
      if (filter.value) params.set("status", filter.value);
      const page = await api(`/v1/jobs?${params}`);
      if (disposed) return;
      clear(body).append(...page.data.map(row));
      if (!page.data.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "hint" }, "no jobs")));
      document.getElementById("jobs-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (disposed) return;
      reportError(error);
    }
    if (!disposed) timer = setTimeout(refresh, REFRESH_MS);
  }

  updateCompare();
  refresh();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
}
