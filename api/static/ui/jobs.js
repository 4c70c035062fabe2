// The jobs table: name, status, verdict, progress, best validation score, duration; filtered by
// status, a page at a time with "Load more", refreshed every REFRESH_MS (every page loaded so far),
// with rows picked for the compare view.

import { api } from "./api.js";
import { bestValidation, clear, formatDuration, formatNumber, h, parseTime, statusBadge, verdictBadge } from "./dom.js";
import { reportError } from "./errors.js";

const REFRESH_MS = 2000;
export const PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 200; // the API's largest `limit`
const STATUSES = ["queued", "running", "cancelling", "succeeded", "failed", "cancelled"];
const FILTER_STORAGE = "trainwell.statusFilter";
const picked = new Set(); // kept across visits within the page's life
const COLUMNS = ["", "name", "status", "verdict", "progress", "best validation", "duration", "created"];

// pageSize: jobs per page (the `page_size` of the #/jobs route; tests page with small ones).
export function showJobs(container, { pageSize = PAGE_SIZE } = {}) {
  let timer = null;
  let disposed = false;
  let pages = 1; // pages loaded: "Load more" adds one, a new filter starts again from one
  let runs = 0; // the latest refresh; an older one that answers late is dropped
  const limit = String(Math.min(Math.max(1, Math.floor(pageSize) || PAGE_SIZE), MAX_PAGE_SIZE));
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
    h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", {}, c)))),
    body,
  );
  const more = h("button", { id: "jobs-more", type: "button", hidden: true }, "Load more");
  const shown = h("span", { class: "hint", id: "jobs-shown" });
  container.append(
    h("div", { class: "toolbar" }, h("h2", {}, "Jobs"), filter, compare),
    table,
    h("div", { class: "toolbar" }, more, shown, h("span", { class: "hint", id: "jobs-updated" })),
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
    pages = 1;
    refresh();
  });
  more.addEventListener("click", () => {
    pages += 1;
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
      h("td", { class: "verdict" }, job.verdict ? verdictBadge(job.verdict) : "—"),
      h("td", {}, progress),
      h("td", { class: "best" }, best ? `${best[0]} ${formatNumber(best[1])}` : "—"),
      h("td", {}, formatDuration(job.started_at, job.finished_at)),
      h("td", { class: "hint" }, new Date(parseTime(job.created_at)).toLocaleString()),
    );
  }

  // The first `pages` pages, following next_cursor; the cursor is a position in the
  // newest-first order, so jobs submitted meanwhile never repeat a row on a later page.
  async function loadPages() {
    const jobs = [];
    let cursor = null;
    for (let n = 0; n < pages; n++) {
      const params = new URLSearchParams({ limit });
      if (filter.value) params.set("status", filter.value);
      if (cursor) params.set("cursor", cursor);
      const page = await api(`/v1/jobs?${params}`);
      jobs.push(...page.data);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return { jobs, hasMore: cursor !== null };
  }

  async function refresh() {
    clearTimeout(timer);
    const run = ++runs;
    try {
      const { jobs, hasMore } = await loadPages();
      if (disposed || run !== runs) return;
      clear(body).append(...jobs.map(row));
      if (!jobs.length) body.append(h("tr", {}, h("td", { colspan: COLUMNS.length, class: "hint" }, "no jobs")));
      more.hidden = !hasMore;
      shown.textContent = `${jobs.length} job${jobs.length === 1 ? "" : "s"}${hasMore ? ", more older ones" : ""}`;
      document.getElementById("jobs-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (disposed || run !== runs) return;
      reportError(error);
    }
    if (!disposed && run === runs) timer = setTimeout(refresh, REFRESH_MS);
  }

  updateCompare();
  refresh();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
}
