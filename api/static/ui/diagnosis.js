// The diagnosis card of a job: the verdict, the findings with their evidence and "Run this remedy"
// buttons, the curvature at the final weights, the probe jobs (behind a banner while they still
// decide the verdict) and the remedy jobs with how they did.

import { newIdempotencyKey } from "./api.js";
import { factItems, fill, formatNumber, h, statusBadge, verdictBadge } from "./dom.js";

// GET …/diagnosis answers `pending` until the worker has written it after the job ended: ask again
// for a couple of minutes, then leave a button.
const PENDING_RETRY_MS = [500, 1000, 1000, 2000, 2000, 3000, 5000, 5000, 10000, 10000, 30000, 30000];
// `running_probes` lasts as long as the probe jobs train; asked again at this pace until `ready`.
const PROBE_REFRESH_MS = 2000;
// A diagnosis only moves forward; a slow answer from before (the stream and the polling race) is dropped.
const PROGRESS = { pending: 0, running_probes: 1, ready: 2 };

// card: the element to fill. job(): the job as last seen (its summary gives the original's train
// loss). load(): a promise of the diagnosis body. runRemedy(code, index, idempotencyKey): a promise
// that launches it.
// onError(error) gets failed loads and launches; onShown(diagnosis) runs after each diagnosis drawn
// (the probe jobs' statuses change). Returns {show(diagnosis), reload(), dispose()}.
export function diagnosisCard(card, { job, load, runRemedy, onError, onShown = () => {} }) {
  let timer = null;
  let disposed = false;
  let pendingAttempt = 0;
  let shown = -1; // PROGRESS of the diagnosis drawn
  // One Idempotency-Key per remedy until its launch succeeds: a click after a failed request is the
  // same launch tried again, which the API can answer with the job the first request may have made.
  const launchKeys = new Map(); // "code/index" → key
  let launching = false; // while a launch is in flight every remedy button waits, even redrawn ones

  function show(diagnosis) {
    if (disposed || PROGRESS[diagnosis.status] < shown) return;
    clearTimeout(timer);
    if (diagnosis.status === "pending") {
      const exhausted = pendingAttempt >= PENDING_RETRY_MS.length;
      const again = h("button", { type: "button", class: "link", onclick: () => reload(true) }, "check again");
      fill(
        card,
        h("h3", {}, "Diagnosis"),
        h("p", { class: "hint", "data-diagnosis": "pending" }, "diagnosis not available yet", " ", exhausted ? again : null),
      );
      if (!exhausted) timer = setTimeout(reload, PENDING_RETRY_MS[pendingAttempt++]);
      return;
    }
    pendingAttempt = 0;
    shown = PROGRESS[diagnosis.status];
    fill(card, renderDiagnosis(diagnosis, { job: job(), launch, launching }));
    if (diagnosis.status === "running_probes") timer = setTimeout(reload, PROBE_REFRESH_MS);
    onShown(diagnosis);
  }

  async function reload(fresh = false) {
    clearTimeout(timer);
    if (fresh === true) pendingAttempt = 0;
    let diagnosis;
    try {
      diagnosis = await load();
    } catch (error) {
      if (!disposed) onError(error);
      return;
    }
    show(diagnosis);
  }

  async function launch(code, index) {
    if (launching) return;
    const remedy = `${code}/${index}`;
    if (!launchKeys.has(remedy)) launchKeys.set(remedy, newIdempotencyKey());
    setLaunching(true);
    try {
      await runRemedy(code, index, launchKeys.get(remedy));
      launchKeys.delete(remedy); // launched: another click is another launch
    } catch (error) {
      onError(error);
    } finally {
      setLaunching(false);
    }
  }

  function setLaunching(value) {
    launching = value;
    for (const button of card.querySelectorAll("button.remedy[data-launchable]")) button.disabled = value;
  }

  return {
    show,
    reload: () => reload(true),
    dispose() {
      disposed = true;
      clearTimeout(timer);
    },
  };
}

// The card's contents for a `ready` or `running_probes` diagnosis. launch(code, index) runs a remedy,
// unless one is `launching`; while the probes run the verdict is provisional and no remedy can be launched.
export function renderDiagnosis(diagnosis, { job, launch, launching }) {
  const provisional = diagnosis.status === "running_probes";
  return [
    h(
      "h3",
      {},
      "Diagnosis ",
      diagnosis.verdict ? verdictBadge(diagnosis.verdict, { provisional }) : h("span", { class: "hint" }, "no verdict yet"),
      diagnosis.verdict && diagnosis.confidence ? confidenceBadge(diagnosis.confidence) : null,
    ),
    provisional ? probeBanner(diagnosis.probes || [], job) : null,
    h("p", {}, diagnosis.summary),
    renderConfidence(diagnosis.confidence),
    renderDecomposition(diagnosis.decomposition),
    renderCurvature(diagnosis.curvature),
    (diagnosis.findings || []).map((finding) => renderFinding(finding, provisional ? null : launch, launching)),
    provisional ? null : renderProbes(diagnosis.probes || [], job),
    renderRemedyJobs(diagnosis.remedy_jobs || []),
  ];
}

function probeBanner(probes, job) {
  return h(
    "div",
    { class: "banner", id: "probes-banner", role: "status" },
    h("strong", {}, "Verdict is provisional: probe jobs are running"),
    renderProbes(probes, job),
  );
}

function bestTrainLoss(job) {
  const best = job && job.summary && job.summary.best_metrics;
  return best && typeof best.train_loss === "number" ? best.train_loss : null;
}

function renderProbes(probes, job) {
  if (!probes.length) return null;
  const original = bestTrainLoss(job);
  return h(
    "ul",
    { class: "probes", id: "probes" },
    probes.map((p) =>
      h(
        "li",
        { "data-probe": p.kind },
        `${p.kind} probe: `,
        p.job_id ? h("a", { href: `#/jobs/${p.job_id}`, class: "probe-link" }, p.job_id.slice(0, 8)) : "not started",
        " ",
        statusBadge(p.status),
        " ",
        h(
          "span",
          { class: "probe-loss" },
          `best train_loss ${formatNumber(p.train_loss)} (this job: ${formatNumber(original)})`,
        ),
      ),
    ),
  );
}

function confidenceBadge(confidence) {
  return h(
    "span",
    { class: `badge confidence confidence-${confidence.level}`, id: "confidence", "data-confidence": confidence.level },
    `${confidence.level} confidence`,
  );
}

// What the verdict rests on, and for a weak one what would settle it.
function renderConfidence(confidence) {
  if (!confidence) return null;
  return h(
    "p",
    { class: "confidence-margin", id: "confidence-margin" },
    `Rests on: ${confidence.margin}.`,
    confidence.settle ? h("span", { class: "hint" }, ` To settle it: ${confidence.settle}.`) : null,
  );
}

// test loss = training loss + generalization gap + shift gap, each gap ± its standard error
function renderDecomposition(decomposition) {
  if (!decomposition) return null;
  const term = (t) => (t ? `${formatNumber(t.value)} ± ${formatNumber(t.standard_error)} (${t.noise || "noise unknown"})` : "—");
  return h(
    "dl",
    { class: "facts", id: "decomposition" },
    factItems([
      ["training loss", formatNumber(decomposition.train_loss)],
      ["+ generalization gap", term(decomposition.generalization_gap)],
      ["+ shift gap", term(decomposition.shift_gap)],
      ["= test loss", formatNumber(decomposition.test_loss)],
    ]),
  );
}

function renderCurvature(curvature) {
  if (!curvature) return null;
  const items = [
    ["critical point", curvature.critical_point || `skipped: ${curvature.skipped_reason || "—"}`],
    ["λmax", formatNumber(curvature.lambda_max)],
    ["λmin", formatNumber(curvature.lambda_min)],
    ["gradient norm", formatNumber(curvature.gradient_norm)],
  ];
  if (curvature.escape) {
    const e = curvature.escape;
    items.push(["escape step", `${formatNumber(e.step)}: loss ${formatNumber(e.loss_before)} → ${formatNumber(e.loss_after)}`]);
  }
  return h("dl", { class: "facts", id: "curvature" }, factItems(items));
}

// A finding with its evidence; with launch(code, index), a "Run this remedy" button per remedy (waiting
// while `launching`). A sweep's comparative findings come in the same shape and are drawn with it too.
export function renderFinding(finding, launch = null, launching = false) {
  return h(
    "div",
    { class: `finding severity-${finding.severity}`, "data-code": finding.code },
    h("h4", {}, finding.title || finding.code, h("span", { class: "hint" }, ` · ${finding.code} · ${finding.severity}`)),
    h("p", {}, finding.explanation),
    h(
      "dl",
      { class: "evidence" },
      Object.entries(finding.evidence || {}).flatMap(([k, v]) => [
        h("dt", {}, k),
        h("dd", {}, typeof v === "number" ? formatNumber(v) : JSON.stringify(v)),
      ]),
    ),
    (finding.remedies || []).map((remedy, index) => {
      const button = h(
        "button",
        {
          type: "button",
          class: "remedy",
          "data-launchable": Boolean(launch),
          disabled: !launch || launching,
          title: launch ? null : "wait for the probe jobs' verdict",
        },
        "Run this remedy",
      );
      if (launch) button.addEventListener("click", () => launch(finding.code, index));
      return h("div", { class: "remedy-row" }, button, h("strong", {}, ` ${remedy.title}`), h("span", { class: "hint" }, ` — ${remedy.rationale}`));
    }),
  );
}

function renderRemedyJobs(remedyJobs) {
  if (!remedyJobs.length) return null;
  return h(
    "ul",
    { class: "remedy-jobs" },
    remedyJobs.map((r) =>
      h(
        "li",
        {},
        h("a", { href: `#/jobs/${r.job_id}` }, r.title || r.job_id.slice(0, 8)),
        " ",
        statusBadge(r.status),
        ` ${r.metric} ${formatNumber(r.before)} → ${formatNumber(r.after)}`,
      ),
    ),
  );
}
