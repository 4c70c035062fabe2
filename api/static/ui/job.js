// One job: what it is a probe or remedy of, its facts, live curves (loss, score, learning rate,
// gradient norm) fed by the events stream, the per-fold picker for k-fold, linked jobs, the
// diagnosis when there is one, and the error surface once the job is final.

import { api, followEvents } from "./api.js";
import { align, LineChart, PALETTE, splitColour } from "./charts.js";
import { diagnosisCard } from "./diagnosis.js";
import { clear, factItems, FINAL_STATUSES, fill, formatDuration, formatNumber, h, statusBadge, verdictBadge } from "./dom.js";
import { reportError } from "./errors.js";
import { landscapePanel } from "./landscape.js";

const SPLITS = ["train", "val", "test"];
const SCORES = ["accuracy", "r2", "mae"];

export function showJob(container, jobId) {
  const path = `/v1/jobs/${encodeURIComponent(jobId)}`;
  let job = null;
  let disposed = false;
  let stream = null;
  let drawQueued = false;
  const epochs = new Map(); // fold → Map(epoch → {name: value})
  let chosenFold = null; // null: follow the fold being trained

  const originLine = h("p", { id: "job-origin", hidden: true });
  const title = h("h2", { id: "job-title" }, "job");
  const facts = h("dl", { class: "facts", id: "job-facts" });
  const cancel = h("button", { id: "job-cancel", type: "button", hidden: true, onclick: cancelJob }, "Cancel job");
  const foldPicker = h("select", { id: "fold-picker", "aria-label": "fold", hidden: true });
  foldPicker.addEventListener("change", () => {
    chosenFold = Number(foldPicker.value);
    queueDraw();
  });
  const chartBox = (id) => h("div", { class: "chart", id });
  const boxes = {
    loss: chartBox("chart-loss"),
    score: chartBox("chart-score"),
    lr: chartBox("chart-lr"),
    grad: chartBox("chart-grad-norm"),
  };
  const summaryCard = h("section", { class: "card", id: "job-summary", hidden: true });
  const diagnosisBox = h("section", { class: "card", id: "diagnosis" }, h("h3", {}, "Diagnosis"));
  const linked = h("section", { class: "card", id: "linked-jobs", hidden: true });
  const landscapeBox = h("section", { class: "card", id: "landscape", hidden: true });

  container.append(
    h("p", {}, h("a", { href: "#/jobs" }, "← all jobs")),
    originLine,
    h("div", { class: "toolbar" }, title, cancel),
    facts,
    h("div", { class: "toolbar" }, h("h3", {}, "Curves"), foldPicker, h("span", { class: "hint", id: "live-state", "data-stream": "connecting" })),
    h("div", { class: "charts" }, Object.values(boxes)),
    h("div", { class: "cards" }, diagnosisBox, h("div", { class: "side" }, summaryCard, linked)),
    landscapeBox,
  );
  const charts = {
    loss: new LineChart(boxes.loss, { title: "loss", yLabel: "loss" }),
    score: new LineChart(boxes.score, { title: "score", yLabel: "score" }),
    lr: new LineChart(boxes.lr, { title: "learning rate", yLabel: "lr" }),
    grad: new LineChart(boxes.grad, { title: "gradient norm", yLabel: "‖g‖" }),
  };
  diagnosisBox.append(h("p", { class: "hint" }, "diagnosis not available yet: it is made when the job ends"));
  const diagnosis = diagnosisCard(diagnosisBox, {
    job: () => job,
    load: () => api(`${path}/diagnosis`),
    runRemedy: async (code, index, idempotencyKey) => {
      const url = `${path}/remedies/${encodeURIComponent(code)}?index=${index}`;
      const created = await api(url, { method: "POST", idempotencyKey });
      location.hash = `#/jobs/${created.id}`;
    },
    onError: reportError,
    onShown: (shown) => (shown.probes || []).length && loadLinked(), // the probes are linked jobs: their status moved
  });
  const landscape = landscapePanel(landscapeBox, { path, onError: reportError });

  function renderFacts() {
    const p = job.progress;
    const items = [
      ["status", statusBadge(job.status)],
      ["progress", `epoch ${p.epoch} of ${p.epochs}` + (p.folds > 1 ? `, fold ${p.fold + 1} of ${p.folds}` : "")],
      ["attempt", String(job.attempt)],
      ["duration", formatDuration(job.started_at, job.finished_at)],
      ["origin", job.origin],
    ];
    if (job.parent_id) items.push(["parent", h("a", { href: `#/jobs/${job.parent_id}` }, job.parent_id.slice(0, 8))]);
    if (job.sweep_id) items.push(["sweep", h("a", { href: `#/sweeps/${job.sweep_id}` }, job.sweep_id.slice(0, 8))]);
    if (job.error) items.push(["error", h("span", { class: "error" }, `${job.error.reason}: ${job.error.message}`)]);
    fill(facts, factItems(items));
    cancel.hidden = FINAL_STATUSES.has(job.status) || job.status === "cancelling";
    renderSummary();
  }

  function renderSummary() {
    const summary = job.summary;
    if (!summary || !summary.best_metrics || !Object.keys(summary.best_metrics).length) return;
    const names = Object.keys(summary.best_metrics).filter((n) => !n.startsWith("grad_") && n !== "lr");
    clear(summaryCard).append(
      h("h3", {}, `Summary — best epoch ${summary.best_epoch}` + (job.progress.folds > 1 ? " (mean over folds)" : "")),
      h(
        "table",
        { class: "summary" },
        h("tr", {}, h("th", {}, "metric"), h("th", {}, "best"), h("th", {}, "final")),
        names.map((n) =>
          h(
            "tr",
            {},
            h("td", {}, n),
            h("td", {}, formatNumber(summary.best_metrics[n])),
            h("td", {}, formatNumber((summary.final_metrics || {})[n])),
          ),
        ),
      ),
    );
    summaryCard.hidden = false;
  }

  function currentFold() {
    if (chosenFold !== null) return chosenFold;
    return epochs.size ? Math.max(...epochs.keys()) : 0;
  }

  function queueDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      if (!disposed) draw();
    });
  }

  function draw() {
    renderFacts();
    const records = epochs.get(currentFold()) || new Map();
    const has = (name) => {
      for (const metrics of records.values()) if (name in metrics) return true;
      return false;
    };
    const line = (name, colour, dash) => {
      const points = new Map();
      for (const [epoch, metrics] of records) if (name in metrics) points.set(epoch, metrics[name]);
      return { label: name, colour, dash, points };
    };
    const show = (chart, names) => {
      const lines = names.filter(has).map((name, i) => line(name, names.length > 2 ? splitColour(name) : PALETTE[i]));
      const { xs, series } = align(lines);
      chart.setData(xs, series);
    };
    show(charts.loss, SPLITS.map((s) => `${s}_loss`));
    const score = SCORES.find((kind) => SPLITS.some((s) => has(`${s}_${kind}`))) || "accuracy";
    show(charts.score, SPLITS.map((s) => `${s}_${score}`));
    show(charts.lr, ["lr"]);
    show(charts.grad, ["grad_norm", "grad_norm_max"]);
  }

  function addEpoch(record) {
    if (!epochs.has(record.fold)) {
      epochs.set(record.fold, new Map());
      foldPicker.append(h("option", { value: record.fold }, `fold ${record.fold + 1}`));
      foldPicker.hidden = epochs.size < 2 && job.progress.folds < 2;
      if (chosenFold === null) foldPicker.value = String(record.fold);
    }
    epochs.get(record.fold).set(record.epoch, record.metrics);
    const p = job.progress;
    if (record.fold > p.fold || (record.fold === p.fold && record.epoch > p.epoch)) {
      Object.assign(p, { fold: record.fold, epoch: record.epoch });
    }
    queueDraw();
  }

  function onStatus(update) {
    Object.assign(job, update);
    renderFacts();
    const live = document.getElementById("live-state");
    if (FINAL_STATUSES.has(job.status)) {
      if (live) live.textContent = "";
      diagnosis.reload();
      landscape.start();
    } else if (live) {
      live.textContent = "live";
    }
  }

  async function cancelJob() {
    cancel.disabled = true;
    try {
      onStatus(await api(`${path}/cancel`, { method: "POST" }));
    } catch (error) {
      reportError(error);
    } finally {
      cancel.disabled = false;
    }
  }

  // "probe of …", "remedy of …": the job this one was made from, by name once it has loaded.
  function renderOrigin() {
    if (!job.parent_id) return;
    const parent = h("a", { href: `#/jobs/${job.parent_id}`, id: "job-parent" }, job.parent_id.slice(0, 8));
    fill(originLine, `${job.origin} of `, parent);
    originLine.hidden = false;
    api(`/v1/jobs/${encodeURIComponent(job.parent_id)}`).then(
      (p) => (parent.textContent = p.name || p.id.slice(0, 8)),
      (error) => !disposed && reportError(error),
    );
  }

  async function loadLinked() {
    try {
      const page = await api(`/v1/jobs?parent_id=${encodeURIComponent(jobId)}&limit=50`);
      if (disposed || !page.data.length) return;
      clear(linked).append(
        h("h3", {}, "Linked jobs"),
        h(
          "ul",
          {},
          page.data.map((child) =>
            h(
              "li",
              {},
              h("a", { href: `#/jobs/${child.id}` }, child.name || child.id.slice(0, 8)),
              ` · ${child.origin} · `,
              statusBadge(child.status),
              child.verdict ? [" ", verdictBadge(child.verdict)] : null,
            ),
          ),
        ),
      );
      linked.hidden = false;
    } catch (error) {
      reportError(error);
    }
  }

  async function start() {
    try {
      job = await api(path);
    } catch (error) {
      reportError(error);
      return;
    }
    if (disposed) return;
    title.textContent = job.name || job.id;
    document.title = `${job.name || job.id} — trainwell`;
    renderFacts();
    renderOrigin();
    loadLinked();
    const live = document.getElementById("live-state");
    live.dataset.stream = "open";
    stream = followEvents(jobId, { status: onStatus, epoch: addEpoch, diagnosis: diagnosis.show }, reportError, () => {
      live.dataset.stream = "ended";
    });
  }

  start();
  return () => {
    disposed = true;
    diagnosis.dispose();
    landscape.dispose();
    if (stream) stream.close();
    for (const chart of Object.values(charts)) chart.destroy();
  };
}
