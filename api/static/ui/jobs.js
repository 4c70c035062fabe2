// The jobs table: name, status, verdict, progress, best validation score, duration; filtered by
// status, a page at a time with "Load more", refreshed every REFRESH_MS (every page loaded so far),
// with rows picked for the compare view. Probe jobs are listed under their parent unless "all jobs" is
// ticked: they are the diagnosis's experiments on a job, not jobs the user submitted.

import { api } from "./api.js";
import { bestValidation, clear, formatDuration, formatNumber, h, parseTime, statusBadge, verdictBadge } from "./dom.js";
import { reportError } from "./errors.js";

const REFRESH_MS = 2000;
export const PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 200; // the API's largest `limit`
const STATUSES = ["queued", "running", "cancelling", "succeeded", "failed", "cancelled"];
const FILTER_STORAGE = "trainwell.statusFilter";
const ALL_JOBS_STORAGE = "trainwell.allJobs";
const picked = new Set(); // kept across visits within the page's life
const COLUMNS = ["", "name", "status", "verdict", "progress", "best validation", "duration", "created"];

const isProbe = (job) => job.origin === "probe" && Boolean(job.parent_id);

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
  const allJobs = h("input", { id: "show-all-jobs", type: "checkbox" });
  allJobs.checked = sessionStorage.getItem(ALL_JOBS_STORAGE) === "true";
  const listed = (job) => allJobs.checked || !isProbe(job); // a row of its own, counted in a page
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
    h(
      "div",
      { class: "toolbar" },
      h("h2", {}, "Jobs"),
      filter,
      h("label", { class: "hint" }, allJobs, " all jobs (probe jobs as rows of their own)"),
      compare,
    ),
    h("div", { class: "table-scroll" }, table),
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
  allJobs.addEventListener("change", () => {
    sessionStorage.setItem(ALL_JOBS_STORAGE, String(allJobs.checked));
    pages = 1;
    refresh();
  });
  more.addEventListener("click", () => {
    pages += 1;
    refresh();
  });

  // parent: the job a probe row is listed under, if it is
  function row(job, parent = null) {
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
      { "data-job-id": job.id, class: parent ? "probe-row" : null, "data-parent-id": parent ? parent.id : null },
      h("td", {}, box),
      h(
        "td",
        { class: "name" },
        parent ? h("span", { class: "hint", "aria-hidden": "true" }, "↳ ") : null, // its name says whose probe it is
        h("a", { href: `#/jobs/${job.id}`, class: "job-link" }, job.name || job.id.slice(0, 8)),
      ),
      h("td", { class: "status" }, statusBadge(job.status)),
      h("td", { class: "verdict" }, job.verdict ? verdictBadge(job.verdict) : "—"),
      h("td", {}, progress),
      h("td", { class: "best" }, best ? `${best[0]} ${formatNumber(best[1])}` : "—"),
      h("td", {}, formatDuration(job.started_at, job.finished_at)),
      h("td", { class: "hint" }, new Date(parseTime(job.created_at)).toLocaleString()),
    );
  }

  // Pages of the API's, following next_cursor, until `pages` pages' worth of jobs are listed: probes
  // under their parent do not count. The cursor is a position in the newest-first order, so jobs
  // submitted meanwhile never repeat a row on a later page; and a probe, made when its parent ended,
  // comes before it in that order, so a parent loaded has its probes loaded too.
  async function loadJobs() {
    const jobs = [];
    const wanted = pages * Number(limit);
    let cursor = null;
    do {
      const params = new URLSearchParams({ limit });
      if (filter.value) params.set("status", filter.value);
      if (cursor) params.set("cursor", cursor);
      const page = await api(`/v1/jobs?${params}`);
      jobs.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor && jobs.filter(listed).length < wanted);
    return { jobs, hasMore: cursor !== null };
  }

  // Each listed job's row, followed (unless every job is listed) by its probes' rows.
  function rows(jobs) {
    const probes = new Map(); // parent id → its probe jobs, newest first
    for (const job of jobs) {
      if (!listed(job)) probes.set(job.parent_id, [...(probes.get(job.parent_id) || []), job]);
    }
    const probeRows = (parent) => (probes.get(parent.id) || []).map((probe) => row(probe, parent));
    return jobs.filter(listed).flatMap((job) => [row(job), ...probeRows(job)]);
  }

  async function refresh() {
    clearTimeout(timer);
    const run = ++runs;
    try {
      const { jobs, hasMore } = await loadJobs();
      if (disposed || run !== runs) return;
      const count = jobs.filter(listed).length;
      clear(body).append(...rows(jobs));
      if (!count) body.append(h("tr", {}, h("td", { colspan: COLUMNS.length, class: "hint" }, "no jobs")));
      more.hidden = !hasMore;
      shown.textContent = `${count} job${count === 1 ? "" : "s"}${hasMore ? ", more older ones" : ""}`;
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
