// The API as the dashboard calls it: every request carries the key as a Bearer token.

const KEY_STORAGE = "trainwell.apiKey";

export function getKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setKey(key) {
  localStorage.setItem(KEY_STORAGE, key.trim());
}

export function forgetKey() {
  localStorage.removeItem(KEY_STORAGE);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${getKey()}`, ...extra };
}

async function errorOf(response) {
  let error = {};
  try {
    error = (await response.json()).error || {};
  } catch {
    // not our JSON error shape (a proxy's page, say): keep the status text
  }
  return new ApiError(response.status, error.code || "error", error.message || response.statusText);
}

// idempotencyKey: sent as Idempotency-Key, so that the same request sent again (a retry after it
// failed on the way) is answered with what the first one made instead of making it twice.
export async function api(path, { method = "GET", body, idempotencyKey } = {}) {
  const init = { method, headers: headers() };
  if (idempotencyKey) init.headers["Idempotency-Key"] = idempotencyKey;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

// A fresh Idempotency-Key: 128 random bits in hex. Not crypto.randomUUID(), which browsers offer only
// on https and localhost.
export function newIdempotencyKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// A binary resource (a PNG, say) as a Blob: an <img src> could not send the key.
export async function apiBlob(path) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw await errorOf(response);
  return response.blob();
}

// Follows GET /v1/jobs/{id}/events. EventSource cannot send an Authorization header, so this
// reads the stream with fetch and parses it here; after a dropped connection it reconnects
// with Last-Event-ID and the server sends only what came after. `handlers` maps an event name
// to fn(data, id); `onError(error)` gets API errors (the stream then stops); `onEnd()` runs
// once the server has ended the stream after the job's final status.
export function followEvents(jobId, handlers, onError, onEnd = () => {}) {
  let lastId = null;
  let closed = false;
  let finished = false;
  let controller = null;

  function dispatch(event) {
    if (event.id !== null) lastId = event.id;
    if (!event.data.length) return;
    const data = JSON.parse(event.data.join("\n"));
    if (event.name === "status" && ["succeeded", "failed", "cancelled"].includes(data.status)) finished = true;
    const handler = handlers[event.name];
    if (handler) handler(data, event.id);
  }

  async function read(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = { name: "message", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      for (;;) {
        const end = buffer.search(/\r\n|\r|\n/);
        if (end < 0 || (buffer[end] === "\r" && end === buffer.length - 1)) break; // a split \r\n
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
        if (line === "") {
          dispatch(event);
          event = { name: "message", data: [], id: null };
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "event") event.name = value;
          else if (field === "data") event.data.push(value);
          else if (field === "id") event.id = value;
        }
      }
    }
  }

  async function connect() {
    controller = new AbortController();
    const extra = { Accept: "text/event-stream" };
    if (lastId !== null) extra["Last-Event-ID"] = lastId;
    try {
      const response = await fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, {
        headers: headers(extra),
        signal: controller.signal,
      });
      if (!response.ok) {
        onError(await errorOf(response));
        return;
      }
      await read(response);
    } catch (error) {
      if (closed) return;
      console.warn("event stream interrupted, reconnecting", error);
    }
    if (closed) return;
    if (finished) onEnd();
    else setTimeout(connect, 1000);
  }

  connect();
  return {
    close() {
      closed = true;
      if (!finished && controller) controller.abort();
    },
  };
}
