// The trial page's controls and command log (views). The controls only call back (`act`); the page
// controller owns the requests and the state.
import { h, num, when } from "../dom.js";

const LOG_MIN = -6;
const LOG_MAX = 0;

// A learning-rate field and a log-scale slider that follow each other.
export function learningRateControl(initial, onApply) {
  const field = h("input", { type: "text", inputmode: "decimal", size: 10, "data-testid": "lr-input", value: String(initial ?? "") });
  const slider = h("input", {
    type: "range",
    min: LOG_MIN,
    max: LOG_MAX,
    step: 0.01,
    "data-testid": "lr-slider",
    value: String(initial > 0 ? Math.log10(initial) : -3),
  });
  const note = h("input", { type: "text", placeholder: "note (why)", "data-testid": "command-note", size: 24 });
  const apply = h("button", { "data-testid": "lr-apply" }, "Set learning rate");
  slider.addEventListener("input", () => {
    field.value = num(10 ** Number(slider.value), 3);
  });
  field.addEventListener("input", () => {
    const v = Number(field.value);
    if (v > 0) slider.value = String(Math.min(LOG_MAX, Math.max(LOG_MIN, Math.log10(v))));
  });
  apply.addEventListener("click", () => onApply(Number(field.value), note.value || null));
  return {
    el: h("div", { class: "controls-row" }, h("label", {}, "learning rate ", field), slider, note, apply),
    note: () => note.value || null,
    // A finished trial takes no command: its learning rate can no longer be set.
    update(state) {
      const finished = !["queued", "running", "paused"].includes(state);
      for (const input of [field, slider, apply]) input.disabled = finished;
      apply.title = finished ? `the trial is ${state}: fork it to try another learning rate` : "";
    },
    set(value) {
      if (document.activeElement === field || document.activeElement === slider) return;
      field.value = String(value);
      if (value > 0) slider.value = String(Math.log10(value));
    },
  };
}

// Pause, resume and stop, enabled by the trial's state.
export function lifeButtons(act) {
  const pause = h("button", { "data-testid": "trial-pause", onclick: () => act("pause") }, "Pause");
  const resume = h("button", { "data-testid": "trial-resume", onclick: () => act("resume") }, "Resume");
  const stop = h("button", { "data-testid": "trial-stop", class: "danger", onclick: () => act("stop") }, "Stop");
  return {
    el: h("div", { class: "controls-row" }, pause, resume, stop),
    update(state) {
      const finished = !["queued", "running", "paused"].includes(state);
      pause.disabled = finished || state === "paused";
      resume.disabled = state !== "paused";
      stop.disabled = finished;
    },
  };
}

// Fork: an edited copy of the params (JSON) and the step to fork at.
export function forkForm(onFork) {
  const params = h("textarea", { rows: 4, cols: 50, "data-testid": "fork-params" });
  const step = h("input", { type: "number", min: 0, placeholder: "latest", "data-testid": "fork-step", size: 6 });
  const go = h("button", { "data-testid": "fork-submit" }, "Fork");
  go.addEventListener("click", () => {
    let edited;
    try {
      edited = JSON.parse(params.value);
    } catch (e) {
      onFork(null, null, `params are not JSON: ${e.message}`);
      return;
    }
    onFork(edited, step.value === "" ? null : Number(step.value), null);
  });
  return {
    el: h("details", { class: "fork", "data-testid": "fork-form" }, h("summary", {}, "Fork with edited hyperparameters"), params, h("label", {}, " at step ", step), go),
    fill(p) {
      if (!params.value) params.value = JSON.stringify(p, null, 1);
    },
  };
}

export function commandLog(commands) {
  if (!commands.length) return h("p", { class: "muted", "data-testid": "command-log-empty" }, "No commands yet.");
  return h(
    "table",
    { class: "grid", "data-testid": "command-log" },
    h("thead", {}, h("tr", {}, ["#", "action", "params", "state", "step", "who", "when", "note"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      [...commands].reverse().map((c) =>
        h(
          "tr",
          { "data-testid": "command-row", "data-action": c.action, "data-state": c.state },
          h("td", {}, c.id),
          h("td", {}, c.action),
          h("td", {}, Object.entries(c.params).map(([k, v]) => `${k}=${num(v, 4)}`).join(", ")),
          h("td", {}, c.state + (c.reason ? ` (${c.reason})` : "")),
          h("td", {}, c.applied_step ?? "—"),
          h("td", {}, c.author || "—"),
          h("td", {}, when(c.applied_at || c.created_at)),
          h("td", { class: "note" }, c.note || ""),
        ),
      ),
    ),
  );
}
