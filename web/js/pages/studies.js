// The studies page: every study, its progress and best value; refreshed every 2 s.
import { get, query } from "../api.js";
import { finishedSearch, forksText, h, num, objectiveLabel, when } from "../dom.js";
import { nextRetestCell, staleBadge } from "../views/retests.js";

const PAGE = 50;

function progress(s) {
  const c = s.counts;
  const finished = finishedSearch(s);
  const pct = Math.min(100, (100 * finished) / s.config.max_trials);
  return h(
    "div",
    { class: "progress", "data-testid": "study-progress" },
    h("div", { class: "bar" }, h("span", { style: `width:${pct}%` })),
    h("span", {}, `${finished} / ${s.config.max_trials}${forksText(s)}`),
    c.running ? h("span", { class: "muted" }, ` · ${c.running} running`) : null,
    c.queued ? h("span", { class: "muted" }, ` · ${c.queued} queued`) : null,
  );
}

function row(s) {
  return h(
    "tr",
    { "data-testid": "study-row", "data-study-id": s.id },
    h("td", {}, s.id),
    h("td", {}, h("a", { href: `#/studies/${s.id}`, "data-testid": "study-link" }, s.name)),
    h("td", {}, objectiveLabel(s.config.objective)),
    h("td", { "data-testid": "study-direction" }, s.config.direction),
    h("td", {}, s.config.strategy.name.replaceAll("_", " ")),
    h("td", {}, h("span", { class: `status ${s.status}`, "data-testid": "study-status" }, s.status), " ", staleBadge(s)),
    h("td", {}, progress(s)),
    h("td", { class: "num", "data-testid": "study-best" }, s.best ? num(s.best.value) : "—"),
    h("td", {}, when(s.created_at)),
    h("td", {}, nextRetestCell(s)),
  );
}

export function mount(root) {
  document.title = "Studies · Caviar";
  let offset = 0;
  let timer = null;
  let alive = true;
  const body = h("tbody", { "data-testid": "studies-body" });
  const pager = h("div", { class: "pager" });
  const count = h("span", { class: "muted", "data-testid": "studies-count" });
  root.append(
    h(
      "section",
      { class: "card" },
      h(
        "div",
        { class: "card-head" },
        h("h1", {}, "Studies"),
        count,
        h("a", { class: "button", href: "#/new", "data-testid": "new-study" }, "New study"),
      ),
      h(
        "table",
        { class: "grid", "data-testid": "studies" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["#", "name", "objective", "direction", "strategy", "status", "progress", "best", "created", "next re-test"].map(
              (t) => h("th", {}, t),
            ),
          ),
        ),
        body,
      ),
      pager,
    ),
  );

  async function refresh() {
    clearTimeout(timer);
    try {
      const { data, count: total } = await get(`/studies${query({ offset, limit: PAGE })}`);
      if (!alive) return;
      body.replaceChildren(
        ...(data.length
          ? data.map(row)
          : [h("tr", {}, h("td", { colspan: 10, class: "muted" }, "No studies yet."))]),
      );
      count.textContent = `${total} stud${total === 1 ? "y" : "ies"}`;
      pager.replaceChildren(
        h("button", { disabled: offset === 0, onclick: () => move(-PAGE) }, "Newer"),
        h("span", {}, `${total ? offset + 1 : 0}–${offset + data.length} of ${total}`),
        h("button", { disabled: offset + PAGE >= total, onclick: () => move(PAGE) }, "Older"),
      );
    } catch (e) {
      count.textContent = `Could not load studies: ${e.message}`;
    }
    if (alive) timer = setTimeout(refresh, 2000);
  }

  function move(by) {
    offset = Math.max(0, offset + by);
    refresh();
  }

  refresh();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
