// The trial page's facts: state, value, lineage, hyperparameters, and its latest reports.
import { h, num, when } from "../dom.js";
import { pruneText } from "../plots/common.js";

const REPORT_ROWS = 50;

export function facts(t, lastStep) {
  const rows = [
    ["study", h("a", { href: `#/studies/${t.study_id}`, "data-testid": "trial-study" }, `study ${t.study_id}`)],
    ["state", h("span", { class: `state ${t.state}`, "data-testid": "trial-state" }, t.state)],
    ["value", h("b", { "data-testid": "trial-value" }, num(t.value, 6))],
    ["step", lastStep === undefined ? "—" : String(lastStep)],
    ["stage", String(t.stage)],
    ["attempt", String(t.attempt)],
    ["started", when(t.started_at)],
    ["finished", when(t.finished_at)],
  ];
  if (t.parent_id) {
    rows.push([
      "forked from",
      h("span", {}, h("a", { href: `#/trials/${t.parent_id}`, "data-testid": "trial-parent" }, `trial ${t.parent_id}`), ` at step ${t.forked_at_step}`),
    ]);
  }
  if (t.steered) {
    rows.push(["steered", h("span", { "data-testid": "trial-steered" }, "by a person: the search does not learn from it")]);
  }
  if (t.prune_reason) rows.push(["pruned", pruneText(t.prune_reason)]);
  if (t.error) rows.push(["error", h("span", { class: "error" }, t.error)]);
  return h("dl", { class: "facts trial" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function paramsTable(params) {
  return h(
    "table",
    { class: "grid small", "data-testid": "trial-params" },
    h("thead", {}, h("tr", {}, h("th", {}, "hyperparameter"), h("th", {}, "value"))),
    h("tbody", {}, Object.entries(params).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, num(v, 6))))),
  );
}

// The latest REPORT_ROWS reports, newest first (the curves show them all).
export function reportsTable(reports) {
  if (!reports.length) return h("p", { class: "muted", "data-testid": "trial-reports" }, "No intermediate reports.");
  const latest = reports.slice(-REPORT_ROWS).reverse();
  const keys = [...new Set(latest.flatMap((r) => Object.keys(r.metrics || {})))];
  return [
    reports.length > REPORT_ROWS ? h("p", { class: "muted" }, `The latest ${REPORT_ROWS} of ${reports.length.toLocaleString()} reports.`) : null,
    h(
      "table",
      { class: "grid small", "data-testid": "trial-reports" },
      h("thead", {}, h("tr", {}, h("th", {}, "step"), h("th", {}, "value"), keys.map((k) => h("th", {}, k)))),
      h(
        "tbody",
        {},
        latest.map((r) => h("tr", { "data-testid": "report-row" }, h("td", {}, r.step), h("td", { class: "num" }, num(r.value, 6)), keys.map((k) => h("td", { class: "num" }, num(r.metrics?.[k], 6))))),
      ),
    ),
  ];
}
