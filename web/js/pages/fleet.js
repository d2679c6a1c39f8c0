// The fleet page: each worker (online or offline, what it runs, when it was last heard, what it
// finished), online ones first; the broker's queue depth, and recent requeues with their
// reasons; refreshed every 2 s.
import { get } from "../api.js";
import { h, when } from "../dom.js";

function ago(iso) {
  if (!iso) return "—";
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return when(iso);
}

function trialLink(t) {
  return h(
    "a",
    { href: `#/trials/${t.id}`, "data-testid": "worker-trial" },
    `study ${t.study_id} · trial ${t.number} (attempt ${t.attempt})`,
  );
}

function workerState(w) {
  const title = w.online
    ? `heard within its window of ${w.window} s`
    : `not heard for over ${w.window} s (its window); an idle worker is heard again when it takes a trial`;
  return h("span", { class: `state ${w.online ? "online" : "offline"}`, title }, w.online ? "online" : "offline");
}

function workerRow(w) {
  return h(
    "tr",
    {
      "data-testid": "worker-row",
      "data-worker": w.worker,
      "data-online": String(w.online),
      class: w.online ? "" : "offline",
    },
    h("td", { "data-testid": "worker-name" }, w.worker),
    h("td", { "data-testid": "worker-state" }, workerState(w)),
    h("td", { "data-testid": "worker-host" }, w.host ?? "—"),
    h(
      "td",
      {},
      w.current_trial ? trialLink(w.current_trial) : h("span", { class: "muted" }, w.online ? "idle" : "—"),
      w.running > 1 ? h("span", { class: "muted", "data-testid": "worker-fused" }, ` + ${w.running - 1} fused`) : null,
    ),
    h("td", { "data-testid": "worker-heard", title: w.last_heard ?? "" }, ago(w.last_heard)),
    h("td", { class: "num", "data-testid": "worker-finished" }, w.finished),
  );
}

function eventRow(e) {
  return h(
    "tr",
    { "data-testid": "requeue-row", "data-kind": e.kind, "data-trial-id": e.trial_id },
    h("td", {}, ago(e.created_at)),
    h("td", {}, h("a", { href: `#/trials/${e.trial_id}` }, `study ${e.study_id} · trial ${e.number}`)),
    h("td", {}, e.attempt),
    h("td", { "data-testid": "requeue-kind" }, e.kind),
    h("td", { "data-testid": "requeue-reason", class: "note" }, e.reason),
    h("td", {}, e.worker ?? "—"),
  );
}

function table(testid, heads, body) {
  return h(
    "table",
    { class: "grid", "data-testid": testid },
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", {}, t)))),
    body,
  );
}

export function mount(root) {
  let timer = null;
  let alive = true;
  const workers = h("tbody", { "data-testid": "workers-body" });
  const requeues = h("tbody", { "data-testid": "requeues-body" });
  const depth = h("span", { "data-testid": "queue-depth" }, "…");
  const status = h("span", { class: "muted", "data-testid": "fleet-status" });
  root.append(
    h(
      "section",
      { class: "card" },
      h(
        "div",
        { class: "card-head" },
        h("h1", {}, "Fleet"),
        h("span", {}, "queue depth: ", depth),
        status,
      ),
      h("div", { class: "scroll" }, table("workers", ["worker", "state", "host", "current trial", "last heard", "finished"], workers)),
    ),
    h(
      "section",
      { class: "card" },
      h("div", { class: "card-head" }, h("h2", {}, "Recent requeues")),
      h("div", { class: "scroll" }, table("requeues", ["when", "trial", "attempt", "what", "reason", "worker"], requeues)),
    ),
  );

  async function refresh() {
    clearTimeout(timer);
    try {
      const f = await get("/fleet");
      if (!alive) return;
      depth.textContent = f.queue_depth === null ? "unknown" : String(f.queue_depth);
      depth.title = f.queue ?? "";
      workers.replaceChildren(
        ...(f.workers.length
          ? f.workers.map(workerRow)
          : [h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No worker has claimed a trial yet."))]),
      );
      requeues.replaceChildren(
        ...(f.requeues.length
          ? f.requeues.map(eventRow)
          : [h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No requeues."))]),
      );
      status.textContent = "";
      root.dataset.ready = "1";
    } catch (e) {
      status.textContent = `Could not load the fleet: ${e.message}`;
    }
    if (alive) timer = setTimeout(refresh, 2000);
  }

  refresh();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
