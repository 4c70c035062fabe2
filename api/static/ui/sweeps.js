// The sweeps table: name, status, trials and where they stand, created; a page at a time with
// "Load more", refreshed every REFRESH_MS like the jobs table. A sweep's row opens its view.

import { api } from "./api.js";
import { clear, h, parseTime, statusBadge } from "./dom.js";
import { reportError } from "./errors.js";

const REFRESH_MS = 2000;
const PAGE_SIZE = 50;
const COLUMNS = ["name", "status", "trials", "counts", "created"];
// a sweep's `counts`, in the order a trial goes through them
const COUNTS = ["waiting", "queued", "running", "cancelling", "succeeded", "failed", "cancelled"];

// The trials' counts as badges, the empty ones left out: "2 running", "1 queued"… A waiting trial (held
// back by max_parallel or the quota) has no job yet, so no status colour either.
export function countBadges(counts) {
  return COUNTS.filter((name) => counts[name]).map((name) =>
    h("span", { class: `badge status-${name}`, "data-count": name }, `${counts[name]} ${name}`),
  );
}

export function showSweeps(container) {
  let timer = null;
  let disposed = false;
  let pages = 1;
  let runs = 0; // the latest refresh; an older one that answers late is dropped
  const body = h("tbody");
  const table = h(
    "table",
    { id: "sweeps-table", class: "listing" },
    h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", {}, c)))),
    body,
  );
  const more = h("button", { id: "sweeps-more", type: "button", hidden: true }, "Load more");
  const shown = h("span", { class: "hint", id: "sweeps-shown" });
  container.append(
    h("div", { class: "toolbar" }, h("h2", {}, "Sweeps")),
    h("div", { class: "table-scroll" }, table),
    h("div", { class: "toolbar" }, more, shown),
  );
  more.addEventListener("click", () => {
    pages += 1;
    refresh();
  });

  function row(sweep) {
    return h(
      "tr",
      { "data-sweep-id": sweep.id },
      h("td", { class: "name" }, h("a", { href: `#/sweeps/${sweep.id}`, class: "sweep-link" }, sweep.name || sweep.id.slice(0, 8))),
      h("td", { class: "status" }, statusBadge(sweep.status)),
      h("td", { class: "trial-count" }, String(sweep.trials)),
      h("td", {}, h("span", { class: "counts" }, countBadges(sweep.counts))),
      h("td", { class: "hint" }, new Date(parseTime(sweep.created_at)).toLocaleString()),
    );
  }

  // `pages` pages of the API's, newest first, following next_cursor
  async function loadSweeps() {
    const sweeps = [];
    let cursor = null;
    for (let page = 0; page < pages; page++) {
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) params.set("cursor", cursor);
      const answer = await api(`/v1/sweeps?${params}`);
      sweeps.push(...answer.data);
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
    return { sweeps, hasMore: cursor !== null };
  }

  async function refresh() {
    clearTimeout(timer);
    const run = ++runs;
    try {
      const { sweeps, hasMore } = await loadSweeps();
      if (disposed || run !== runs) return;
      clear(body).append(...sweeps.map(row));
      if (!sweeps.length) body.append(h("tr", {}, h("td", { colspan: COLUMNS.length, class: "hint" }, "no sweeps")));
      more.hidden = !hasMore;
      shown.textContent = `${sweeps.length} sweep${sweeps.length === 1 ? "" : "s"}${hasMore ? ", more older ones" : ""}`;
    } catch (error) {
      if (disposed || run !== runs) return;
      reportError(error);
    }
    if (!disposed && run === runs) timer = setTimeout(refresh, REFRESH_MS);
  }

  refresh();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
}
