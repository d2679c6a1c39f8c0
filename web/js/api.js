// REST calls. Errors carry the status and the api's `detail` (for 422: [{field, msg}]).
// A 401 asks for a token (see token.js) and tries again with it.
import { askForToken, authHeaders, forgetToken } from "./token.js";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

async function call(method, path, body) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(`/api${path}`, init);
  const json = r.status !== 204 && r.headers.get("content-type")?.includes("json");
  const data = json ? await r.json() : null;
  if (r.status === 401) {
    if (authHeaders().authorization === init.headers.authorization) {
      forgetToken(); // refused: ask for another (unless a newer one was saved meanwhile)
      await askForToken(data?.detail ?? "a token is required");
    }
    return call(method, path, body);
  }
  if (!r.ok) throw new ApiError(r.status, data?.detail ?? r.statusText);
  return data;
}

// One line for a failed call, as a person reads it: every 422 field with its message, or the
// api's own sentence (a 403 names the role it needs, a 409 the state in the way).
export function errorText(e) {
  if (Array.isArray(e.detail)) return e.detail.map((d) => `${d.field}: ${d.msg}`).join("; ");
  if (e.detail && typeof e.detail === "object") return `${e.detail.field ? `${e.detail.field}: ` : ""}${e.detail.detail ?? ""}`;
  return e.message;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const patch = (path, body) => call("PATCH", path, body);
export const del = (path) => call("DELETE", path);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
