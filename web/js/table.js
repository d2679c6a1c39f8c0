// The trials table: sorted, filtered (state, stage) and paged by the api; CSV of the same view.
// A re-test round's trial shows a "round N" badge instead of a search stage.
import { get, query } from "./api.js";
import { h, num, when } from "./dom.js";
import { pruneText } from "./plots/common.js";
import { guardDownload } from "./token.js";

const PAGE = 25;

export function trialsTable(studyId, names) {
  const view = { sort: "number", desc: true, states: [], stages: [], offset: 0 };
  let stagesKnown = [];
  const head = h("thead");
  const body = h("tbody", { "data-testid": "trials-body" });
  const info = h("span", { class: "muted", "data-testid": "trials-count" });
  const pager = h("div", { class: "pager" });
  const stageBox = h("span", { class: "chips", "data-testid": "filter-stage" });
  const csv = h("a", { class: "button", "data-testid": "export-csv", download: "" }, "Export CSV");
  guardDownload(csv);
  const stateBox = h("span", { class: "chips", "data-testid": "filter-state" });
  // The trial states come from the api (caviar/states.py), in their order.
  get("/dashboard/options").then((opts) =>
    stateBox.replaceChildren(
      ...opts.trial_states.map((s) =>
        h(
          "label",
          { class: "chip" },
          h("input", { type: "checkbox", value: s, "data-testid": `filter-state-${s}`, onchange: onFilter }),
          s,
        ),
      ),
    ),
  );
  const root = h(
    "div",
    { class: "trials" },
    h("div", { class: "toolbar" }, h("span", {}, "state"), stateBox, h("span", {}, "stage"), stageBox, info, csv),
    h("div", { class: "scroll" }, h("table", { class: "grid", "data-testid": "trials-table" }, head, body)),
    pager,
  );

  const columns = [
    ["number", "#"],
    ["state", "state"],
    ["stage", "stage"],
    ["value", "value"],
    ...names.map((n) => [`params.${n}`, n]),
  ];

  function renderHead() {
    head.replaceChildren(
      h(
        "tr",
        {},
        columns.map(([key, label]) =>
          h(
            "th",
            {
              class: "sortable",
              "data-testid": `sort-${key}`,
              "aria-sort": view.sort === key ? (view.desc ? "descending" : "ascending") : "none",
              onclick: () => {
                view.desc = view.sort === key ? !view.desc : key === "value" ? false : key === "number";
                view.sort = key;
                view.offset = 0;
                refresh();
              },
            },
            label,
            view.sort === key ? (view.desc ? " ▼" : " ▲") : "",
          ),
        ),
        h("th", {}, "note"),
      ),
    );
  }

  function onFilter() {
    view.states = [...stateBox.querySelectorAll("input:checked")].map((i) => i.value);
    view.stages = [...stageBox.querySelectorAll("input:checked")].map((i) => Number(i.value));
    view.offset = 0;
    refresh();
  }

  function setStages(stages) {
    if (stages.join() === stagesKnown.join()) return;
    stagesKnown = stages;
    const checked = new Set(view.stages);
    stageBox.replaceChildren(
      ...stages.map((s) =>
        h(
          "label",
          { class: "chip" },
          h("input", {
            type: "checkbox",
            value: s,
            checked: checked.has(s),
            "data-testid": `filter-stage-${s}`,
            onchange: onFilter,
          }),
          String(s),
        ),
      ),
    );
  }

  function params() {
    return { sort: view.sort, desc: view.desc, state: view.states, stage: view.stages };
  }

  // Round ids (a trial's retest_round) → round numbers, fetched when a page shows a new one.
  const roundNumbers = new Map();
  async function learnRounds(trials) {
    if (trials.every((t) => t.retest_round === null || t.retest_round === undefined || roundNumbers.has(t.retest_round))) return;
    const rounds = await get(`/studies/${studyId}/retests?limit=1000`);
    for (const r of rounds.data) roundNumbers.set(r.id, r.number);
  }

  function stageCell(t) {
    if (t.retest_round === null || t.retest_round === undefined) return h("td", {}, t.stage);
    const n = roundNumbers.get(t.retest_round);
    return h(
      "td",
      {},
      h("span", { class: "round-badge", "data-testid": "round-badge", title: "a re-test round's trial: not part of the search" }, n === undefined ? "round" : `round ${n}`),
    );
  }

  let seq = 0;
  async function refresh() {
    const mine = ++seq;
    renderHead();
    csv.href = `/api/studies/${studyId}/dashboard/trials.csv${query(params())}`;
    const page = await get(
      `/studies/${studyId}/dashboard/trials${query({ ...params(), offset: view.offset, limit: PAGE })}`,
    );
    await learnRounds(page.data).catch(() => {});
    if (mine !== seq) return;
    body.replaceChildren(
      ...page.data.map((t) =>
        h(
          "tr",
          {
            class: "clickable",
            title: `open trial #${t.number}`,
            "data-testid": "trial-row",
            "data-number": t.number,
            "data-trial-id": t.id,
            "data-state": t.state,
            "data-round": t.retest_round ?? null,
            onclick: () => (location.hash = `#/trials/${t.id}`),
          },
          h("td", {}, t.number),
          h("td", {}, h("span", { class: `state ${t.state}` }, t.state)),
          stageCell(t),
          h("td", { class: "num" }, num(t.value, 6)),
          names.map((n) => h("td", { class: "num" }, num(t.params[n], 5))),
          h(
            "td",
            { class: "note", title: t.finished_at ? `finished ${when(t.finished_at)}` : "" },
            t.prune_reason ? pruneText(t.prune_reason) : t.error || "",
          ),
        ),
      ),
    );
    if (!page.data.length) body.append(h("tr", {}, h("td", { colspan: columns.length + 1, class: "muted" }, "No trials match.")));
    info.textContent = `${page.count} trial${page.count === 1 ? "" : "s"}`;
    const last = Math.min(view.offset + PAGE, page.count);
    pager.replaceChildren(
      h("button", { "data-testid": "trials-prev", disabled: view.offset === 0, onclick: () => move(-PAGE) }, "Previous"),
      h("span", { "data-testid": "trials-range" }, `${page.count ? view.offset + 1 : 0}–${last} of ${page.count}`),
      h("button", { "data-testid": "trials-next", disabled: last >= page.count, onclick: () => move(PAGE) }, "Next"),
    );
  }

  function move(by) {
    view.offset = Math.max(0, view.offset + by);
    refresh();
  }

  return { el: root, refresh, setStages };
}
