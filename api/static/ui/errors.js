// Where views send their errors: a refused key goes back to the key form (app.js listens),
// anything else is shown in the page's error line.

export const UNAUTHORIZED_EVENT = "trainwell:unauthorized";

export function reportError(error) {
  if (error && error.status === 401) {
    window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT, { detail: error.message }));
    return;
  }
  const box = document.getElementById("error-box");
  if (box) box.textContent = (error && error.message) || String(error);
}
