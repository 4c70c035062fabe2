// The dashboard's shell: the key form, the header, and a hash router over its views: #/jobs
// (?page_size=N; the sweeps under the jobs), #/jobs/{id}, #/compare?ids=a,b, #/sweeps and #/sweeps/{id}.

import { forgetKey, getKey, setKey } from "./api.js";
import { showCompare } from "./compare.js";
import { clear, h } from "./dom.js";
import { UNAUTHORIZED_EVENT } from "./errors.js";
import { showJob } from "./job.js";
import { showJobs } from "./jobs.js";
import { showSweep } from "./sweep.js";
import { showSweeps } from "./sweeps.js";

const view = document.getElementById("view");
const keyStatus = document.getElementById("key-status");
let disposeView = () => {};

function showKeyForm(message) {
  disposeView();
  disposeView = () => {};
  renderKeyStatus();
  const input = h("input", {
    id: "key-input",
    type: "password",
    autocomplete: "off",
    placeholder: "tw_…",
    "aria-label": "API key",
  });
  const save = () => {
    if (!input.value.trim()) return;
    setKey(input.value);
    route();
  };
  input.addEventListener("keydown", (event) => event.key === "Enter" && save());
  clear(view).append(
    h(
      "section",
      { class: "card key-form" },
      h("h2", {}, "Your API key"),
      h("p", {}, "Every request from this page sends it as a Bearer token; it is kept in this browser's local storage."),
      message ? h("p", { class: "error" }, message) : null,
      h("div", { class: "row" }, input, h("button", { id: "key-save", type: "button", onclick: save }, "Save key")),
      h("p", { class: "hint" }, "make run prints a local key and keeps it in var/api_key."),
    ),
  );
  input.focus();
}

function renderKeyStatus() {
  const key = getKey();
  clear(keyStatus);
  if (!key) return;
  keyStatus.append(
    h("span", { class: "hint" }, `key ${key.slice(0, 11)}…`),
    h(
      "button",
      {
        id: "key-forget",
        type: "button",
        class: "link",
        onclick: () => {
          forgetKey();
          showKeyForm();
        },
      },
      "forget",
    ),
  );
}

function route() {
  disposeView();
  disposeView = () => {};
  if (!getKey()) {
    showKeyForm();
    return;
  }
  renderKeyStatus();
  clear(view).append(h("p", { id: "error-box", class: "error", role: "alert" }));
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  const container = h("div");
  view.append(container);
  if (parts[0] === "jobs" && parts[1]) disposeView = showJob(container, decodeURIComponent(parts[1]));
  else if (parts[0] === "compare") disposeView = showCompare(container, (params.get("ids") || "").split(",").filter(Boolean));
  else if (parts[0] === "sweeps" && parts[1]) disposeView = showSweep(container, decodeURIComponent(parts[1]));
  else if (parts[0] === "sweeps") disposeView = showSweeps(container);
  else {
    const sweeps = h("div", { id: "sweeps" });
    view.append(sweeps);
    const disposeJobs = showJobs(container, { pageSize: Number(params.get("page_size")) || undefined });
    const disposeSweeps = showSweeps(sweeps);
    disposeView = () => {
      disposeJobs();
      disposeSweeps();
    };
  }
}

window.addEventListener("hashchange", route);
window.addEventListener(UNAUTHORIZED_EVENT, (event) => showKeyForm(`The API refused the key: ${event.detail}`));
route();
