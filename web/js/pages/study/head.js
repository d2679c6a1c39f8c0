// The study page's summary card: name, status, progress, best, and the study's actions.
import { finishedSearch, forksText, h, num, objectiveLabel, when } from "../../dom.js";
import { staleBadge } from "../../views/retests.js";

export function strategyText(st) {
  const opts = Object.entries(st)
    .filter(([k]) => k !== "name")
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return `${st.name.replaceAll("_", " ")}${opts ? ` (${opts})` : ""}`;
}

// Where a warm-started study came from, and what it kept: [dt, dd], or nothing.
function warmStart(w) {
  if (!w) return [];
  const kept = `${w.configurations} configuration${w.configurations === 1 ? "" : "s"}`;
  const why = [`${w.observations} earlier results guide the strategy`, ...w.notes].join("; ");
  return [
    h("dt", {}, "warm start"),
    h("dd", { "data-testid": "warm-start", title: why }, `warm-started from study ${w.study_id} (${kept})`),
  ];
}

// Draws the summary of `study` into el.head; actions: {cancel, rename, remove}; `error`: why
// the last action failed, shown under the buttons.
export function renderHead(el, study, regions, actions, error = "") {
  const s = study;
  const c = s.counts;
  const finished = finishedSearch(s);
  const pct = Math.min(100, (100 * finished) / s.config.max_trials);
  const best = s.best;
  el.head.replaceChildren(
    h(
      "div",
      { class: "card-head" },
      h("h1", { "data-testid": "study-name" }, s.name),
      h("span", { class: `status ${s.status}`, "data-testid": "study-status" }, s.status),
      staleBadge(s),
      el.live,
      h(
        "span",
        { class: "actions" },
        h("button", { "data-testid": "rename-study", onclick: actions.rename }, "Rename"),
        s.status === "running"
          ? h("button", { class: "danger", "data-testid": "cancel-study", onclick: actions.cancel }, "Cancel study")
          : h("button", { class: "danger", "data-testid": "delete-study", onclick: actions.remove }, "Delete study"),
      ),
    ),
    h("p", { class: "error", "data-testid": "study-action-error", role: "alert" }, error),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "objective"),
      h("dd", {}, `${objectiveLabel(s.config.objective)} · ${s.config.direction}`),
      h("dt", {}, "strategy"),
      h("dd", {}, strategyText(s.config.strategy)),
      h("dt", {}, "pruner"),
      h("dd", {}, s.config.pruner.name),
      ...warmStart(s.warm_start_report),
      h("dt", {}, "progress"),
      h(
        "dd",
        { "data-testid": "study-progress" },
        h("div", { class: "bar" }, h("span", { style: `width:${pct}%` })),
        h("span", { "data-testid": "finished-count" }, `${finished}`),
        ` / ${s.config.max_trials} finished${forksText(s)} · ${c.running} running · ${c.queued} queued · ${c.completed} completed · ${c.pruned} pruned · ${c.failed} failed`,
      ),
      h("dt", {}, "stage"),
      h("dd", { "data-testid": "study-stage" }, `${s.stage} (${regions.length} region${regions.length === 1 ? "" : "s"})`),
      h("dt", {}, "best"),
      h(
        "dd",
        { "data-testid": "study-best" },
        best
          ? [
              h("b", {}, num(best.value, 6)),
              ` trial #${best.number} · `,
              Object.entries(best.params)
                .map(([k, v]) => `${k} = ${num(v, 5)}`)
                .join(", "),
            ]
          : "—",
      ),
      h("dt", {}, "created"),
      h("dd", {}, when(s.created_at)),
    ),
  );
}
