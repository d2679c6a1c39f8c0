// The study page: summary, regions view, slices, history, learning curves, parallel
// coordinates, trials table. Live: polls updates past its cursor every second while the study
// runs, fetching only what is new.
import { get, post, query } from "../api.js";
import { h, num, objectiveLabel, when } from "../dom.js";
import { plotly } from "../plotly.js";
import * as curvesPlot from "../plots/curves.js";
import * as historyPlot from "../plots/history.js";
import * as parcoordsPlot from "../plots/parcoords.js";
import * as regionsPlot from "../plots/regions.js";
import * as slicesPlot from "../plots/slices.js";
import { axisOf } from "../scales.js";
import { StudyData, ranges } from "../store.js";
import { trialsTable } from "../table.js";
import { mountRetestPanel, staleBadge } from "../views/retests.js";

const POLL_MS = 1000;
const MAX_WATCH = 2000;

function card(title, testid, ...body) {
  return h("section", { class: "card", "data-testid": testid }, h("h2", {}, title), ...body);
}

function plotBox(testid, height) {
  return h("div", { class: "plot", "data-testid": testid, style: `height:${height}px` });
}

function objectiveAxis(data) {
  return {
    name: "objective",
    kind: "linear",
    of: (r) => r.value,
    span: () => {
      const v = data.valued().rows.map((r) => r.value);
      return [Math.min(...v), Math.max(...v)];
    },
    layout: () => ({ type: "linear" }),
  };
}

export function mount(root, idText) {
  const id = Number(idText);
  let alive = true;
  let timer = null;
  let study = null;
  let regions = [];
  let axes = {};
  let data = null;
  let table = null;
  let metric = "value";
  plotly(); // start loading Plotly while the data arrives

  const el = {
    head: h("section", { class: "card study-head", "data-testid": "study-head" }, h("p", { class: "muted" }, "Loading…")),
    pairX: h("select", { "data-testid": "pair-x", onchange: () => redraw(["regions"]) }),
    pairY: h("select", { "data-testid": "pair-y", onchange: () => redraw(["regions"]) }),
    regions: plotBox("plot-regions", 480),
    regionList: h("div", { class: "scroll" }),
    slices: plotBox("plot-slices", 260),
    history: plotBox("plot-history", 340),
    curves: plotBox("plot-curves", 340),
    curvesNote: h("span", { class: "muted", "data-testid": "curves-note" }),
    metric: h("select", { "data-testid": "curve-metric", onchange: (e) => { metric = e.target.value; redraw(["curves"]); } }),
    parcoords: plotBox("plot-parcoords", 380),
    sampleNote: h("p", { class: "muted", "data-testid": "sample-note" }),
    live: h("span", { class: "live", "data-testid": "live-status" }),
    tableBox: h("div"),
    distinct: h("div", { "data-testid": "distinct" }),
  };

  root.append(
    el.head,
    el.sampleNote,
    card(
      "Regions",
      "regions-card",
      h("div", { class: "toolbar" }, h("label", {}, "x ", el.pairX), h("label", {}, "y ", el.pairY), h("span", { class: "muted" }, "pairs ranked by importance")),
      el.regions,
      el.regionList,
    ),
    card("Slices", "slices-card", h("p", { class: "muted" }, "The objective against each hyperparameter on its own scale; bands are the regions of later stages."), el.slices),
    h(
      "div",
      { class: "two" },
      card("History", "history-card", el.history),
      card("Learning curves", "curves-card", h("div", { class: "toolbar" }, h("label", {}, "metric ", el.metric), el.curvesNote), el.curves),
    ),
    card("Parallel coordinates", "parcoords-card", el.parcoords),
    card("Trials", "trials-card", el.tableBox),
    card("Grid vs random", "distinct-card", el.distinct),
  );
  const stopRetests = mountRetestPanel(el.head, id);

  function renderHead() {
    const s = study;
    const c = s.counts;
    const finished = c.completed + c.pruned + c.failed + c.cancelled;
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
        s.status === "running"
          ? h("button", { class: "danger", "data-testid": "cancel-study", onclick: cancel }, "Cancel study")
          : null,
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "objective"),
        h("dd", {}, `${objectiveLabel(s.config.objective)} · ${s.config.direction}`),
        h("dt", {}, "strategy"),
        h("dd", {}, strategyText(s.config.strategy)),
        h("dt", {}, "pruner"),
        h("dd", {}, s.config.pruner.name),
        h("dt", {}, "progress"),
        h(
          "dd",
          { "data-testid": "study-progress" },
          h("div", { class: "bar" }, h("span", { style: `width:${pct}%` })),
          h("span", { "data-testid": "finished-count" }, `${finished}`),
          ` / ${s.config.max_trials} finished · ${c.running} running · ${c.queued} queued · ${c.completed} completed · ${c.pruned} pruned · ${c.failed} failed`,
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

  function strategyText(st) {
    const opts = Object.entries(st)
      .filter(([k]) => k !== "name")
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    return `${st.name.replaceAll("_", " ")}${opts ? ` (${opts})` : ""}`;
  }

  async function cancel() {
    if (!confirm(`Cancel study ${study.name}? Unfinished trials become cancelled.`)) return;
    study = await post(`/studies/${id}/cancel`);
    renderHead();
  }

  function order() {
    const names = Object.keys(axes);
    return [...names].sort((a, b) => (data.importance[b] ?? 0) - (data.importance[a] ?? 0) || names.indexOf(a) - names.indexOf(b));
  }

  function fillPickers() {
    const opts = (sel, chosen, extra) => {
      sel.replaceChildren(
        ...order().map((n) => h("option", { value: n }, `${n} (${num(data.importance[n] ?? 0, 2)})`)),
        ...(extra ? [h("option", { value: "objective" }, "objective")] : []),
      );
      sel.value = chosen;
    };
    const [x, y] = data.pair;
    opts(el.pairX, x, false);
    opts(el.pairY, y ?? "objective", true);
  }

  function renderRegionList() {
    const names = Object.keys(axes);
    el.regionList.replaceChildren(
      h(
        "table",
        { class: "grid small", "data-testid": "region-list" },
        h("thead", {}, h("tr", {}, h("th", {}, "stage"), h("th", {}, "region"), h("th", {}, "parent"), h("th", {}, "trials"), names.map((n) => h("th", {}, n)))),
        h(
          "tbody",
          {},
          regions.map((r) =>
            h(
              "tr",
              { "data-testid": "region-row", "data-stage": r.stage },
              h("td", {}, r.stage),
              h("td", {}, r.id),
              h("td", {}, r.parent ?? "—"),
              h("td", {}, r.trials),
              names.map((n) => {
                const b = r.bounds[n];
                return h("td", { class: "num" }, b.choices ? b.choices.join(", ") : `${num(b.low, 4)} – ${num(b.high, 4)}`);
              }),
            ),
          ),
        ),
      ),
    );
  }

  function renderNotes() {
    el.sampleNote.textContent = data.sampled
      ? `${study.name} has ${data.finished.toLocaleString()} finished trials: the plots draw ${data.valued().rows.length.toLocaleString()} of them (the best tenth and an even spread of the rest, plus every trial that finished since this page opened); the table reads them all.`
      : "";
    const n = data.curves.size;
    el.curvesNote.textContent = n ? `${n} trial${n === 1 ? "" : "s"} with reports${data.sampled ? " (the best, the newest, the running and a spread of the pruned)" : ""}` : "no intermediate reports";
    const keys = new Set(["value"]);
    for (const c of data.curves.values()) for (const k of Object.keys(c.metrics)) keys.add(k);
    if ([...keys].join() !== [...el.metric.options].map((o) => o.value).join()) {
      el.metric.replaceChildren(...[...keys].map((k) => h("option", { value: k }, k === "value" ? "reported value" : k)));
      el.metric.value = keys.has(metric) ? metric : "value";
    }
  }

  const plots = {
    regions: () => {
      const y = el.pairY.value === "objective" ? objectiveAxis(data) : axes[el.pairY.value];
      return regionsPlot.render(el.regions, { data, axes, regions, pair: [el.pairX.value, null], direction: study.config.direction, y });
    },
    slices: () => slicesPlot.render(el.slices, { data, axes, regions, order: order(), direction: study.config.direction }),
    history: () => historyPlot.render(el.history, { data, axes }),
    curves: () => curvesPlot.render(el.curves, { data, metric }),
    parcoords: () => parcoordsPlot.render(el.parcoords, { data, axes, order: order(), direction: study.config.direction }),
  };

  // Redraws run one at a time; requests made while one is queued are merged into it.
  let drawing = Promise.resolve();
  let queued = null;
  function redraw(which = Object.keys(plots)) {
    if (queued) {
      for (const k of which) queued.add(k);
      return drawing;
    }
    const mine = new Set(which);
    queued = mine;
    drawing = drawing.then(async () => {
      queued = null;
      if (!alive) return;
      renderNotes();
      for (const k of Object.keys(plots).filter((k) => mine.has(k))) {
        try {
          await plots[k]();
          performance.mark(`caviar:drawn:${k}`);
        } catch (e) {
          console.error(`plot ${k}:`, e);
        }
      }
    });
    return drawing;
  }

  async function start() {
    const [s, r, snap] = await Promise.all([get(`/studies/${id}`), get(`/studies/${id}/regions`), get(`/studies/${id}/dashboard`)]);
    if (!alive) return;
    study = s;
    regions = r;
    axes = Object.fromEntries(Object.entries(s.config.space).map(([n, p]) => [n, axisOf(n, p)]));
    data = new StudyData(Object.keys(axes), s.config.direction);
    data.applySnapshot(snap);
    document.title = `${s.name} · Caviar`;
    renderHead();
    renderRegionList();
    fillPickers();
    table = trialsTable(id, Object.keys(axes));
    el.tableBox.replaceChildren(table.el);
    table.setStages(regions.map((x) => x.stage).filter((v, i, a) => a.indexOf(v) === i));
    table.refresh();
    await redraw();
    if (!alive) return;
    performance.mark("caviar:plots-drawn");
    root.dataset.ready = "1";
    setLive();
    loadDistinct();
    timer = setTimeout(poll, POLL_MS);
  }

  function setLive(text) {
    const running = study.status === "running" || data.pending.length > 0;
    el.live.className = `live ${running ? "on" : "off"}`;
    el.live.dataset.cursor = String(data.cursor);
    el.live.textContent = text || (running ? `live · updated ${new Date().toLocaleTimeString()}` : "finished");
  }

  let lastTable = 0;
  let tableStale = false;
  async function poll() {
    if (!alive) return;
    let again = POLL_MS;
    try {
      const sent = data.pending.slice(0, MAX_WATCH);
      const unsent = data.pending.slice(MAX_WATCH);
      const [u, s] = await Promise.all([
        get(`/studies/${id}/dashboard/updates${query({ after: data.cursor, watch: ranges(sent) })}`),
        get(`/studies/${id}`),
      ]);
      if (!alive) return;
      const regionChanged = s.region_id !== study.region_id;
      const headChanged = JSON.stringify([s.counts, s.status, s.best]) !== JSON.stringify([study.counts, study.status, study.best]);
      study = s;
      if (regionChanged) {
        regions = await get(`/studies/${id}/regions`);
        renderRegionList();
        table.setStages(regions.map((x) => x.stage).filter((v, i, a) => a.indexOf(v) === i));
      }
      const changed = data.applyUpdates(u, unsent);
      if (headChanged || regionChanged) renderHead();
      if (changed || regionChanged) {
        redraw();
        tableStale = true;
      }
      if (tableStale && Date.now() - lastTable > 1500) {
        tableStale = false;
        lastTable = Date.now();
        table.refresh();
      }
      if (u.more) again = 0;
      setLive();
      if (study.status !== "running" && data.pending.length === 0 && !u.more) {
        table.refresh();
        loadDistinct();
        return; // nothing more will change
      }
    } catch (e) {
      setLive(`offline: ${e.message}`);
      again = 3000;
    }
    timer = setTimeout(poll, again);
  }

  async function loadDistinct() {
    try {
      const d = await get(`/studies/${id}/dashboard/distinct`);
      el.distinct.replaceChildren(
        h(
          "p",
          { class: "muted" },
          `Distinct values tried with a budget of ${d.trials} trials: a grid of ${d.points_per_param} points per hyperparameter, against random search, which draws every hyperparameter afresh in every trial.`,
        ),
        h(
          "table",
          { class: "grid small" },
          h("thead", {}, h("tr", {}, h("th", {}, "hyperparameter"), h("th", {}, "grid"), h("th", {}, "random"))),
          h("tbody", {}, Object.entries(d.params).map(([n, v]) => h("tr", {}, h("td", {}, n), h("td", { class: "num" }, v.grid), h("td", { class: "num" }, v.random)))),
        ),
      );
    } catch (e) {
      el.distinct.textContent = `—`;
    }
  }

  start().catch((e) => {
    el.head.replaceChildren(h("p", { class: "error", "data-testid": "study-error" }, `Could not load study ${id}: ${e.message}`));
  });

  return () => {
    stopRetests();
    alive = false;
    clearTimeout(timer);
    if (window.Plotly) for (const p of root.querySelectorAll(".js-plotly-plot")) window.Plotly.purge(p);
  };
}
