// The new-study form. The api validates; each 422 error is shown next to the field it names
// (`detail[].field`, e.g. space.learning_rate.high), or next to its nearest enclosing field.
import { ApiError, get, post } from "../api.js";
import { h } from "../dom.js";
import { field, spaceEditor } from "../space_editor.js";

const DEFAULT_SPACE = {
  learning_rate: { type: "float", low: 0.0001, high: 1, scale: "log" },
  beta: { type: "float", low: 0.9, high: 0.999, scale: "reverse_log" },
  hidden_units: { type: "int", low: 16, high: 256, scale: "log" },
};

function select(testid, values, chosen, attrs = {}) {
  const s = h("select", { "data-testid": testid, ...attrs }, values.map((v) => h("option", { value: v }, v)));
  if (chosen !== undefined) s.value = chosen;
  return s;
}

function input(testid, value, attrs = {}) {
  return h("input", { "data-testid": testid, value: value ?? "", ...attrs });
}

// Inputs generated from an option model's JSON schema (caviar.search_config).
function optionFields(prefix, schema) {
  const controls = {};
  const fields = [];
  for (const [k, prop] of Object.entries(schema.properties || {})) {
    const path = `${prefix}.${k}`;
    let c;
    if (prop.enum) c = select(`${prefix}-${k}`, prop.enum, prop.default);
    else c = input(`${prefix}-${k}`, prop.default, { size: 8, inputmode: "decimal" });
    const range = [prop.minimum ?? prop.exclusiveMinimum, prop.maximum ?? prop.exclusiveMaximum];
    const hint = range.some((v) => v !== undefined) ? `${range[0] ?? ""} … ${range[1] ?? ""}` : prop.description;
    controls[k] = [c, prop.type];
    fields.push(field(path, k.replaceAll("_", " "), c, hint));
  }
  return {
    fields,
    value: () =>
      Object.fromEntries(
        Object.entries(controls)
          .filter(([, [c]]) => c.value.trim() !== "")
          .map(([k, [c, type]]) => [k, type === "integer" || type === "number" ? numberOr(c.value) : c.value]),
      ),
  };
}

const numberOr = (s) => (Number.isNaN(Number(s)) ? s : Number(s));

export function mount(root) {
  let alive = true;
  document.title = "New study · Caviar";
  const form = h("form", { class: "card study-form", "data-testid": "study-form", novalidate: true });
  const general = h("p", { class: "field-error general", "data-testid": "form-error", role: "alert" });
  root.append(form);

  (async () => {
    const opts = await get("/dashboard/options");
    let uploaded = [];
    try {
      const d = await get("/datasets");
      // the newest version by name, or a pinned version by ref (name@version)
      uploaded = (d.data || []).flatMap((x) => [x.name, x.ref]);
    } catch {
      // no dataset uploads on this api (yet): the built-in datasets are enough
    }
    if (!alive) return;
    build(opts, [...new Set([...opts.objective.datasets, ...uploaded])]);
  })().catch((e) => form.replaceChildren(h("p", { class: "error" }, `Could not load the form: ${e.message}`)));

  function build(opts, datasets) {
    const name = input("study-name", "", { placeholder: "e.g. digits-c2f", size: 30 });
    const direction = select("direction", ["minimize", "maximize"], "minimize");
    const kind = select("objective-kind", ["train", "function", "external"], "train");
    const fn = select("objective-function", opts.objective.functions, "sphere");
    const dataset = select("objective-dataset", datasets, datasets[0]);
    const epochs = input("objective-epochs", 20, { size: 6, inputmode: "numeric" });
    const metric = select("objective-metric", opts.objective.metrics, "val_loss");
    const fixed = h("textarea", { "data-testid": "objective-fixed", rows: 2, cols: 40, placeholder: '{"optimizer": "adam"}' });
    const objectiveBox = h("div", { class: "fields" });
    const space = spaceEditor(DEFAULT_SPACE);
    const strategy = select("strategy", Object.keys(opts.strategies), "coarse_to_fine");
    const strategyBox = h("div", { class: "fields" });
    const pruner = select("pruner", Object.keys(opts.pruners), "asha");
    const prunerBox = h("div", { class: "fields" });
    const maxTrials = input("max-trials", 60, { size: 7, inputmode: "numeric" });
    const parallelism = input("parallelism", 4, { size: 5, inputmode: "numeric" });
    const seed = input("seed", "", { size: 10, placeholder: "random", inputmode: "numeric" });
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "submit-study" }, "Create study");
    const preview = h("pre", { class: "json", "data-testid": "body-preview" });
    let strategyOpts = null;
    let prunerOpts = null;

    function objectiveFields() {
      const k = kind.value;
      const items = [
        field("objective", "objective", kind),
        k === "function" ? field("objective.name", "function", fn) : null,
        k === "train"
          ? [
              field("objective.dataset", "dataset", dataset),
              field("objective.epochs", "epochs", epochs),
              field("objective.metric", "metric", metric),
              field("objective.fixed", "fixed hyperparameters (JSON)", fixed),
            ]
          : null,
        k === "external" ? h("span", { class: "hint" }, "your script asks for trials and tells their results") : null,
      ];
      objectiveBox.replaceChildren(...items.flat().filter(Boolean));
    }
    function strategyFields() {
      strategyOpts = optionFields("strategy", opts.strategies[strategy.value]);
      strategyBox.replaceChildren(field("strategy", "strategy", strategy), ...strategyOpts.fields);
    }
    function prunerFields() {
      prunerOpts = optionFields("pruner", opts.pruners[pruner.value]);
      prunerBox.replaceChildren(field("pruner", "pruner", pruner), ...prunerOpts.fields);
    }
    kind.addEventListener("change", objectiveFields);
    strategy.addEventListener("change", strategyFields);
    pruner.addEventListener("change", prunerFields);
    objectiveFields();
    strategyFields();
    prunerFields();

    function body() {
      const objective = { kind: kind.value };
      if (kind.value === "function") objective.name = fn.value;
      if (kind.value === "train") {
        Object.assign(objective, { dataset: dataset.value, epochs: numberOr(epochs.value), metric: metric.value });
        if (fixed.value.trim()) objective.fixed = JSON.parse(fixed.value);
      }
      const out = {
        name: name.value,
        direction: direction.value,
        objective,
        space: space.value(),
        strategy: { name: strategy.value, ...strategyOpts.value() },
        pruner: { name: pruner.value, ...prunerOpts.value() },
        max_trials: numberOr(maxTrials.value),
        parallelism: numberOr(parallelism.value),
      };
      if (seed.value.trim()) out.seed = numberOr(seed.value);
      return out;
    }

    function showPreview() {
      try {
        preview.textContent = JSON.stringify(body(), null, 2);
      } catch (e) {
        preview.textContent = `(${e.message})`;
      }
    }
    form.addEventListener("input", showPreview);
    form.addEventListener("change", showPreview);

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors();
      let b;
      try {
        b = body();
      } catch (e) {
        showError("objective.fixed", `not valid JSON: ${e.message}`);
        return;
      }
      submit.disabled = true;
      try {
        const s = await post("/studies", b);
        location.hash = `#/studies/${s.id}`;
      } catch (e) {
        if (e instanceof ApiError && e.status === 422 && Array.isArray(e.detail)) {
          for (const d of e.detail) showError(d.field, d.msg.replace(/^Value error, /, ""));
        } else {
          general.textContent = e.message;
        }
      } finally {
        submit.disabled = false;
      }
    });

    form.replaceChildren(
      h("h1", {}, "New study"),
      general,
      h("div", { class: "fields" }, field("name", "name", name), field("direction", "direction", direction)),
      h("h2", {}, "Objective"),
      objectiveBox,
      h("h2", {}, "Search space"),
      h("p", { class: "hint" }, "Random values on the right scale: log for learning rates, reverse_log (1 − β on a log scale) for momentum."),
      space.el,
      h("h2", {}, "Search"),
      strategyBox,
      prunerBox,
      h("div", { class: "fields" }, field("max_trials", "max trials", maxTrials), field("parallelism", "parallelism", parallelism), field("seed", "seed", seed)),
      h("div", { class: "actions" }, submit),
      h("details", {}, h("summary", {}, "Request body"), preview),
    );
    showPreview();
  }

  function clearErrors() {
    general.textContent = "";
    for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
    for (const f of form.querySelectorAll(".invalid")) f.classList.remove("invalid");
  }

  // Show `msg` at the field named by `path`, or at its nearest enclosing field.
  function showError(path, msg) {
    const parts = String(path).split(".");
    while (parts.length) {
      const p = parts.join(".");
      const target = form.querySelector(`[data-testid="error-${CSS.escape(p)}"]`);
      if (target) {
        target.textContent = target.textContent ? `${target.textContent}; ${msg}` : msg;
        target.closest(".field")?.classList.add("invalid");
        return;
      }
      parts.pop();
    }
    general.textContent = general.textContent ? `${general.textContent}; ${path}: ${msg}` : `${path}: ${msg}`;
  }

  return () => {
    alive = false;
  };
}
