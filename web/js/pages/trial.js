// A trial's page (#/trials/ID): its state, value, hyperparameters, prune reason or error, and
// every report it made, with a link back to its study.
import { get } from "../api.js";
import { h, num, when } from "../dom.js";
import { pruneText } from "../plots/common.js";

function facts(t) {
  const rows = [
    ["study", h("a", { href: `#/studies/${t.study_id}`, "data-testid": "trial-study" }, `study ${t.study_id}`)],
    ["state", h("span", { class: `state ${t.state}`, "data-testid": "trial-state" }, t.state)],
    ["value", h("b", { "data-testid": "trial-value" }, num(t.value, 6))],
    ["stage", String(t.stage)],
    ["attempt", String(t.attempt)],
    ["started", when(t.started_at)],
    ["finished", when(t.finished_at)],
  ];
  if (t.prune_reason) rows.push(["pruned", pruneText(t.prune_reason)]);
  if (t.error) rows.push(["error", h("span", { class: "error" }, t.error)]);
  return h("dl", { class: "facts trial" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function paramsTable(params) {
  return h(
    "table",
    { class: "grid small", "data-testid": "trial-params" },
    h("thead", {}, h("tr", {}, h("th", {}, "hyperparameter"), h("th", {}, "value"))),
    h("tbody", {}, Object.entries(params).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, num(v, 6))))),
  );
}

function reportsTable(reports) {
  if (!reports.length) return h("p", { class: "muted", "data-testid": "trial-reports" }, "No intermediate reports.");
  const keys = [...new Set(reports.flatMap((r) => Object.keys(r.metrics || {})))];
  return h(
    "table",
    { class: "grid small", "data-testid": "trial-reports" },
    h("thead", {}, h("tr", {}, h("th", {}, "step"), h("th", {}, "value"), keys.map((k) => h("th", {}, k)))),
    h(
      "tbody",
      {},
      reports.map((r) => h("tr", { "data-testid": "report-row" }, h("td", {}, r.step), h("td", { class: "num" }, num(r.value, 6)), keys.map((k) => h("td", { class: "num" }, num(r.metrics?.[k], 6))))),
    ),
  );
}

export function mount(root, idText) {
  const id = Number(idText);
  let alive = true;
  document.title = `Trial ${id} · Caviar`;
  const box = h("section", { class: "card", "data-testid": "trial-page" }, h("p", { class: "muted" }, "Loading…"));
  root.append(box);
  (async () => {
    const [t, reports] = await Promise.all([get(`/trials/${id}`), get(`/trials/${id}/reports`)]);
    if (!alive) return;
    document.title = `Trial #${t.number} of study ${t.study_id} · Caviar`;
    box.replaceChildren(
      h("div", { class: "card-head" }, h("h1", { "data-testid": "trial-title" }, `Trial #${t.number}`), h("span", { class: "muted" }, `id ${t.id}`)),
      facts(t),
      h("h2", {}, "Hyperparameters"),
      paramsTable(t.params),
      h("h2", {}, "Reports"),
      reportsTable(reports.data || reports),
    );
    root.dataset.ready = "1";
  })().catch((e) => box.replaceChildren(h("p", { class: "error", "data-testid": "trial-error" }, `Could not load trial ${id}: ${e.message}`)));
  return () => {
    alive = false;
  };
}
