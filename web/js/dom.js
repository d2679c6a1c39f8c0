// Small DOM and formatting helpers.

// h("div", {class: "x", "data-testid": "y", onclick: f}, child, "text", [more])
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "value") node.value = v;
    else if (k === "checked") node.checked = Boolean(v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else node.append(c instanceof Node ? c : String(c));
  }
}

// A number, compactly: 6 significant digits, exponent form when tiny or huge.
export function num(x, digits = 4) {
  if (x === null || x === undefined) return "—";
  if (typeof x !== "number") return String(x);
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e7) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(Math.max(digits - 1, 1));
  return String(Number(x.toPrecision(digits)));
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function objectiveLabel(objective) {
  if (objective.kind === "function") return `function ${objective.name}`;
  if (objective.kind === "train") return `train ${objective.dataset} (${objective.metric})`;
  return "external";
}

// A study's finished search trials: what its progress counts against max_trials. A person's
// forks are outside max_trials (the api counts them apart in `forks`).
export function finishedSearch(study) {
  const done = (c) => (c.completed || 0) + (c.pruned || 0) + (c.failed || 0) + (c.cancelled || 0);
  return done(study.counts) - done(study.forks || {});
}

// "· 2 forks" when a study has forks, else "".
export function forksText(study) {
  const n = Object.values(study.forks || {}).reduce((a, b) => a + b, 0);
  return n ? ` · ${n} fork${n === 1 ? "" : "s"}` : "";
}
