// The api token of this browser: kept in localStorage, asked for when the api answers 401.
import { h } from "./dom.js";

const KEY = "caviar.token";
let asking = null; // one prompt at a time, shared by every call waiting for it

export function token() {
  return localStorage.getItem(KEY) || "";
}

export function authHeaders() {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

// Show the prompt (once, however many calls were refused); resolves when a token is saved.
export function askForToken(reason) {
  if (asking) return asking;
  asking = new Promise((resolve) => {
    const input = h("input", {
      type: "password",
      autocomplete: "off",
      placeholder: "cvr_…",
      "data-testid": "token-input",
    });
    const dialog = h(
      "dialog",
      { class: "token-prompt", "data-testid": "token-prompt" },
      h(
        "form",
        { method: "dialog" },
        h("h3", {}, "This Caviar needs a token"),
        h("p", { class: "error", "data-testid": "token-reason" }, reason),
        h(
          "p",
          { class: "hint" },
          "Ask an operator for one (caviar token create --role viewer). It stays in this browser.",
        ),
        input,
        h("button", { class: "primary", "data-testid": "token-save" }, "Use token"),
      ),
    );
    dialog.addEventListener("close", () => {
      const value = input.value.trim();
      if (!value) {
        dialog.showModal(); // nothing to try without a token
        return;
      }
      localStorage.setItem(KEY, value);
      dialog.remove();
      asking = null;
      resolve(value);
    });
    dialog.addEventListener("cancel", (e) => e.preventDefault());
    document.body.append(dialog);
    dialog.showModal();
  });
  return asking;
}

export function forgetToken() {
  localStorage.removeItem(KEY);
}

// A download link that carries the token: fetched with the header, saved from a blob.
export function guardDownload(anchor) {
  anchor.addEventListener("click", async (e) => {
    if (!token()) return; // an open api: the plain link works
    e.preventDefault();
    const r = await fetch(anchor.href, { headers: authHeaders() });
    if (!r.ok) return;
    const url = URL.createObjectURL(await r.blob());
    const a = h("a", { href: url, download: anchor.getAttribute("download") || "" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
}
