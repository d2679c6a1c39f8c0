// A trial's page (#/trials/ID), panda mode: its facts and lineage, live curves (`value` and
// every reported metric, each of which can be hidden), the controls (learning rate, pause,
// resume, stop, fork), the command log, its hyperparameters and latest reports, with a link back
// to its study. Polls only what is new every POLL_MS while the trial is alive: the trial, the
// reports past its cursor, the commands.
import { ApiError, get, post } from "../api.js";
import { h } from "../dom.js";
import { plotly } from "../plotly.js";
import * as curves from "../plots/trial_curves.js";
import { curveChoice } from "../views/curve_choice.js";
import { commandLog, forkForm, learningRateControl, lifeButtons } from "../views/trial_controls.js";
import { facts, paramsTable, reportsTable } from "../views/trial_facts.js";

const POLL_MS = 500;
const ALIVE = ["queued", "running", "paused"];

function message(err) {
  if (err instanceof ApiError && Array.isArray(err.detail)) return err.detail.map((e) => `${e.field}: ${e.msg}`).join("; ");
  return err.message;
}

export function mount(root, idText) {
  const id = Number(idText);
  let alive = true;
  let timer = null;
  let trial = null;
  let reports = [];
  let commands = [];
  let attempt = null;
  document.title = `Trial ${id} · Caviar`;
  plotly();

  const el = {
    head: h("section", { class: "card", "data-testid": "trial-page" }, h("p", { class: "muted" }, "Loading…")),
    plot: h("div", { class: "plot", "data-testid": "trial-curves", style: "height:460px" }),
    error: h("p", { class: "error", "data-testid": "trial-error", role: "alert" }),
    log: h("div", { "data-testid": "command-log-box" }),
    details: h("div", {}),
  };
  const choice = curveChoice(() => draw());
  const lr = learningRateControl(null, (value, note) => act("set", { learning_rate: value }, note));
  const life = lifeButtons((action) => act(action, {}, lr.note()));
  const fork = forkForm(async (params, step, error) => {
    if (error) return showError(error);
    try {
      const child = await post(`/trials/${id}/fork`, { params, step });
      location.hash = `#/trials/${child.id}`;
    } catch (err) {
      showError(message(err));
    }
  });
  root.append(
    el.head,
    h("section", { class: "card", "data-testid": "trial-controls" }, h("h2", {}, "Steer"), lr.el, life.el, fork.el, el.error),
    h("section", { class: "card", "data-testid": "trial-curves-card" }, h("h2", {}, "Learning curves"), choice.el, el.plot),
    h("section", { class: "card", "data-testid": "trial-commands" }, h("h2", {}, "Commands"), el.log),
    h("section", { class: "card" }, el.details),
  );

  function showError(text) {
    el.error.textContent = text || "";
  }

  async function act(action, params, note) {
    showError("");
    try {
      await post(`/trials/${id}/commands`, { action, params, note, author: "dashboard" });
      await tick(false);
    } catch (err) {
      showError(message(err));
    }
  }

  function render() {
    const t = trial;
    const last = reports[reports.length - 1];
    document.title = `Trial #${t.number} of study ${t.study_id} · Caviar`;
    el.head.replaceChildren(
      h("div", { class: "card-head" }, h("h1", { "data-testid": "trial-title" }, `Trial #${t.number}`), h("span", { class: "muted" }, `id ${t.id}`)),
      facts(t, last?.step),
    );
    el.details.replaceChildren(h("h2", {}, "Hyperparameters"), paramsTable(t.params), h("h2", {}, "Reports"), h("div", {}, reportsTable(reports)));
    life.update(t.state);
    lr.update(t.state);
    const current = last ? last.metrics.learning_rate : t.params.learning_rate;
    if (current !== undefined) lr.set(current);
    fork.fill(t.params);
    el.log.replaceChildren(commandLog(commands));
  }

  async function draw() {
    await curves.render(el.plot, { reports, commands, shown: choice.shown(curves.seriesOf(reports)) });
  }

  async function tick(schedule = true) {
    try {
      const t = await get(`/trials/${id}`);
      if (attempt !== null && t.attempt !== attempt) reports = []; // a new attempt may rewrite its tail
      attempt = t.attempt;
      const after = reports.length ? reports[reports.length - 1].step : -1;
      const [fresh, cmds] = await Promise.all([get(`/trials/${id}/curve?after=${after}`), get(`/trials/${id}/commands`)]);
      if (!alive) return;
      trial = t;
      reports = reports.concat(fresh.data);
      commands = cmds.data;
      render();
      choice.update(curves.seriesOf(reports), reports.length > 0);
      await draw();
      root.dataset.ready = "1";
    } catch (err) {
      if (!trial) el.head.replaceChildren(h("p", { class: "error", "data-testid": "trial-load-error" }, `Could not load trial ${id}: ${message(err)}`));
      else showError(message(err));
    }
    if (alive && schedule) timer = setTimeout(tick, trial && !ALIVE.includes(trial.state) ? 5000 : POLL_MS);
  }

  tick();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
