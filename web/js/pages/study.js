// The study page's controller: loads the study, owns its state (study, regions, axes, data),
// and polls updates past its cursor every second while the study runs, fetching only what is
// new. The views live in ./study/ (layout, head, regions, notes, distinct) and ../plots/.
import { del, errorText, get, patch, post, query } from "../api.js";
import { h } from "../dom.js";
import { plotly } from "../plotly.js";
import * as curvesPlot from "../plots/curves.js";
import * as historyPlot from "../plots/history.js";
import * as importancePlot from "../plots/importance.js";
import * as parcoordsPlot from "../plots/parcoords.js";
import * as regionsPlot from "../plots/regions.js";
import * as slicesPlot from "../plots/slices.js";
import { axisOf } from "../scales.js";
import { StudyData, ranges } from "../store.js";
import { trialsTable } from "../table.js";
import { mountRetestPanel } from "../views/retests.js";
import { loadDistinct } from "./study/distinct.js";
import { renderHead } from "./study/head.js";
import { openTrialOnClick } from "./study/links.js";
import { layout } from "./study/layout.js";
import { renderNotes } from "./study/notes.js";
import { byImportance, fillPickers, renderRegionList } from "./study/regions.js";

const POLL_MS = 1000;
const MAX_WATCH = 2000;

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

  const el = layout(root, {
    onPair: () => redraw(["regions"]),
    onMetric: (m) => {
      metric = m;
      redraw(["curves"]);
    },
  });
  const stopRetests = mountRetestPanel(el.head, id);
  const names = () => Object.keys(axes);
  const order = () => byImportance(names(), data.importance);
  const stages = () => regions.map((x) => x.stage).filter((v, i, a) => a.indexOf(v) === i);
  // A failed action (a viewer's rename: 403; a cancel of a completed study: 409) says why.
  let actionError = "";
  const act = (fn) => async () => {
    actionError = "";
    try {
      await fn();
    } catch (e) {
      actionError = errorText(e);
      head();
    }
  };
  const actions = { cancel: act(cancel), rename: act(rename), remove: act(remove) };
  const head = () => renderHead(el, study, regions, actions, actionError);

  async function cancel() {
    if (!confirm(`Cancel study ${study.name}? Unfinished trials become cancelled.`)) return;
    study = await post(`/studies/${id}/cancel`);
    head();
  }

  async function rename() {
    const name = prompt("New name of the study", study.name);
    if (!name || name === study.name) return;
    study = await patch(`/studies/${id}`, { name });
    document.title = `${study.name} · Caviar`;
    head();
  }

  async function remove() {
    if (!confirm(`Delete study ${study.name} and all its trials? This cannot be undone.`)) return;
    await del(`/studies/${id}`);
    location.hash = "#/";
  }

  const trialOf = (number) => data.rows.get(number)?.id;
  const plots = {
    regions: () => {
      const y = el.pairY.value === "objective" ? objectiveAxis(data) : axes[el.pairY.value];
      return regionsPlot.render(el.regions, { data, axes, regions, pair: [el.pairX.value, null], direction: study.config.direction, y }).then(() => openTrialOnClick(el.regions, trialOf));
    },
    importance: () => importancePlot.render(el.importance, { data, order: order() }),
    slices: () => slicesPlot.render(el.slices, { data, axes, regions, order: order(), direction: study.config.direction }).then(() => openTrialOnClick(el.slices, trialOf)),
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
      renderNotes(el, study, data, metric);
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
    const asked = Promise.all([get(`/studies/${id}`), get(`/studies/${id}/regions`), get(`/studies/${id}/dashboard`)]);
    plotly(); // compiled while the api answers
    const [s, r, snap] = await asked;
    if (!alive) return;
    study = s;
    regions = r;
    axes = Object.fromEntries(Object.entries(s.config.space).map(([n, p]) => [n, axisOf(n, p)]));
    data = new StudyData(names(), s.config.direction);
    data.applySnapshot(snap);
    document.title = `${s.name} · Caviar`;
    head();
    renderRegionList(el, names(), regions);
    fillPickers(el, names(), data);
    table = trialsTable(id, names());
    el.tableBox.replaceChildren(table.el);
    table.setStages(stages());
    table.refresh();
    await redraw();
    if (!alive) return;
    performance.mark("caviar:plots-drawn");
    root.dataset.ready = "1";
    setLive();
    loadDistinct(el, id);
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
      const headChanged = JSON.stringify([s.counts, s.status, s.best, s.name]) !== JSON.stringify([study.counts, study.status, study.best, study.name]);
      study = s;
      if (regionChanged) {
        regions = await get(`/studies/${id}/regions`);
        renderRegionList(el, names(), regions);
        table.setStages(stages());
      }
      const changed = data.applyUpdates(u, unsent);
      if (headChanged || regionChanged) head();
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
        loadDistinct(el, id);
        return; // nothing more will change
      }
    } catch (e) {
      setLive(`offline: ${e.message}`);
      again = 3000;
    }
    timer = setTimeout(poll, again);
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
