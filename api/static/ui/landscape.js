// The error surface around a finished job's weights, computed on request: the training and
// validation loss along the straight line from the initial weights (α = 0) to the final ones
// (α = 1) as a chart, and the contour of the training loss over a plane through the final
// weights as the PNG the API draws.

import { api, apiBlob } from "./api.js";
import { LineChart, splitColour } from "./charts.js";
import { factItems, fill, formatNumber, h } from "./dom.js";

// A landscape takes seconds to a minute on the worker: ask again at this pace until it is done.
const REFRESH_MS = 2000;

// card: the element to fill; path: the job's API path. Call start() once the job is final.
// Returns {start(), dispose()}.
export function landscapePanel(card, { path, onError }) {
  let disposed = false;
  let started = false;
  let timer = null;
  let chart = null;
  let imageUrl = null;

  const compute = h("button", { id: "landscape-compute", type: "button", onclick: request }, "Compute error surface");
  const state = h("p", { class: "hint", id: "landscape-state" });
  const facts = h("dl", { class: "facts", id: "landscape-facts", hidden: true });
  const lineBox = h("div", { class: "chart", id: "chart-landscape-line", hidden: true });
  const contour = h("figure", { class: "contour", id: "landscape-contour", hidden: true });
  card.append(
    h("div", { class: "toolbar" }, h("h3", {}, "Error surface"), compute),
    state,
    facts,
    h("div", { class: "landscape" }, lineBox, contour),
  );

  async function start() {
    if (started || disposed) return;
    started = true;
    card.hidden = false;
    try {
      show(await api(`${path}/landscape`));
    } catch (error) {
      // never requested: the panel offers the button and nothing else
      if (error.status === 404) showNone();
      else if (!disposed) onError(error);
    }
  }

  function showNone() {
    card.dataset.status = "none";
    state.textContent = "The loss around the final weights: computed on request, on the worker.";
  }

  async function request() {
    compute.disabled = true;
    try {
      show(await api(`${path}/landscape`, { method: "POST" }));
    } catch (error) {
      if (!disposed) onError(error);
    } finally {
      compute.disabled = false;
    }
  }

  async function refresh() {
    try {
      show(await api(`${path}/landscape`));
    } catch (error) {
      if (!disposed) onError(error);
    }
  }

  function show(landscape) {
    clearTimeout(timer);
    if (disposed) return;
    card.dataset.status = landscape.status;
    compute.hidden = landscape.status !== "failed";
    if (landscape.status === "queued" || landscape.status === "running") {
      state.textContent = `computing the error surface (${landscape.status})…`;
      timer = setTimeout(refresh, REFRESH_MS);
    } else if (landscape.status === "failed") {
      fill(state, h("span", { class: "error" }, `the error surface failed: ${landscape.error || "no reason given"}`));
    } else {
      state.textContent = "";
      showReady(landscape);
    }
  }

  function showReady(landscape) {
    const items = [
      ["rows", landscape.rows],
      ["fold", landscape.fold],
      ["seconds", formatNumber(landscape.seconds)],
    ];
    if (landscape.surface) items.push(["grid", `${landscape.surface.xs.length} × ${landscape.surface.ys.length}`]);
    fill(facts, factItems(items));
    facts.hidden = false;
    if (landscape.line) {
      lineBox.hidden = false;
      chart = chart || new LineChart(lineBox, { title: "loss from initial (α = 0) to final (α = 1) weights", yLabel: "loss", xLabel: "α" });
      const { alphas } = landscape.line;
      const series = ["train_loss", "val_loss"]
        .filter((name) => Array.isArray(landscape.line[name]))
        .map((name) => ({ label: name, colour: splitColour(name), values: landscape.line[name] }));
      chart.setData(alphas, series);
    }
    if (!imageUrl) showContour(landscape.plot_url || `${path}/landscape.png`);
  }

  async function showContour(url) {
    let blob;
    try {
      blob = await apiBlob(url);
    } catch (error) {
      if (!disposed) onError(error);
      return;
    }
    if (disposed || imageUrl) return;
    imageUrl = URL.createObjectURL(blob);
    fill(
      contour,
      h("img", { id: "landscape-image", src: imageUrl, alt: "the loss along the line and its contour around the final weights" }),
      h("figcaption", { class: "hint" }, "the plot the API draws: the line, and the training loss over a plane through the final weights"),
    );
    contour.hidden = false;
  }

  return {
    start,
    dispose() {
      disposed = true;
      clearTimeout(timer);
      if (chart) chart.destroy();
      if (imageUrl) URL.revokeObjectURL(imageUrl);
    },
  };
}
