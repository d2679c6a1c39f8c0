// The search-space editor: one row per hyperparameter (name, type, bounds, scale or choices),
// each with a preview of where 20 random draws land.
import { h } from "./dom.js";
import { draw, seeded } from "./scales.js";

const SCALES = { float: ["linear", "log", "reverse_log"], int: ["linear", "log"] };
const W = 270;
const PAD = 8;

// A field wrapper: the control, then the place for the api's error about `path`.
export function field(path, label, control, hint) {
  return h(
    "label",
    { class: "field", "data-field": path },
    h("span", { class: "label" }, label),
    control,
    hint ? h("span", { class: "hint" }, hint) : null,
    h("span", { class: "field-error", "data-testid": `error-${path}`, role: "alert" }),
  );
}

function ruler(title, points, ticks) {
  // points, ticks: positions in [0, 1]
  return h(
    "div",
    { class: "ruler" },
    h("span", { class: "ruler-title" }, title),
    svg(
      "svg",
      { width: W, height: 26, viewBox: `0 0 ${W} 26` },
      svg("line", { x1: PAD, x2: W - PAD, y1: 13, y2: 13, stroke: "#adb5bd" }),
      ticks.map(([u, text]) => [
        svg("line", { x1: x(u), x2: x(u), y1: 9, y2: 17, stroke: "#868e96" }),
        svg("text", { x: x(u), y: 26, "text-anchor": u < 0.05 ? "start" : u > 0.95 ? "end" : "middle", "font-size": 9, fill: "#666" }, text),
      ]),
      points.map((u) => svg("circle", { cx: x(u), cy: 13, r: 3.2, fill: "#4c6ef5", "fill-opacity": 0.55 })),
    ),
  );
}

const short = (v) => String(Number(v.toPrecision(3)));
const x = (u) => PAD + u * (W - 2 * PAD);

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children.flat(3)) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// Where 20 draws land: on a linear axis of the real values, and on the scale's own axis.
export function preview(p, seed) {
  const box = h("div", { class: "preview", "data-testid": "scale-preview" });
  if (p.type === "categorical") {
    const choices = p.choices || [];
    if (!choices.length) return box;
    const rand = seeded(seed);
    const counts = new Map(choices.map((c) => [c, 0]));
    for (let i = 0; i < 20; i++) {
      const c = draw(p, rand);
      counts.set(c, counts.get(c) + 1);
    }
    box.append(h("span", { class: "hint" }, `20 draws: ${[...counts].map(([c, n]) => `${c} ×${n}`).join(", ")}`));
    return box;
  }
  const lo = Number(p.low);
  const hi = Number(p.high);
  const valid =
    Number.isFinite(lo) && Number.isFinite(hi) && hi > lo && (p.scale !== "log" || lo > 0) && (p.scale !== "reverse_log" || hi < 1);
  if (!valid) {
    box.append(h("span", { class: "hint" }, "set valid bounds to see where draws land"));
    return box;
  }
  const rand = seeded(seed);
  const draws = Array.from({ length: 20 }, () => draw(p, rand));
  box.dataset.draws = draws.join(",");
  const linU = (v) => (v - lo) / (hi - lo);
  const linTicks = [0, 0.5, 1].map((u) => [u, short(lo + u * (hi - lo))]);
  box.append(ruler("linear", draws.map(linU), linTicks));
  if (p.scale === "log" || p.scale === "reverse_log") {
    const f = p.scale === "log" ? (v) => Math.log10(v) : (v) => -Math.log10(1 - v);
    const a = f(lo);
    const b = f(hi);
    const ownU = (v) => (f(v) - a) / (b - a);
    const ticks = [];
    for (let k = Math.ceil(Math.min(a, b)); k <= Math.floor(Math.max(a, b)); k++) {
      const v = p.scale === "log" ? 10 ** k : 1 - 10 ** -k;
      ticks.push([ownU(v), short(v)]);
    }
    if (ticks.length < 2) ticks.push([0, short(lo)], [1, short(hi)]);
    box.append(ruler(p.scale.replace("_", " "), draws.map(ownU), ticks));
    const below = draws.filter((v) => linU(v) < 0.1).length;
    const above = draws.filter((v) => linU(v) > 0.9).length;
    box.append(
      h(
        "span",
        { class: "hint" },
        p.scale === "log"
          ? `${below} of 20 draws in the lowest tenth of the range: each decade gets an equal share`
          : `${above} of 20 draws in the top tenth of the range: 1 − x gets an equal share per decade`,
      ),
    );
  }
  return box;
}

export function spaceEditor(initial) {
  const rows = [];
  const list = h("div", { class: "space-rows", "data-testid": "space-rows" });
  const root = h(
    "div",
    { class: "space-editor" },
    h("span", { class: "field-error", "data-testid": "error-space", role: "alert", "data-field": "space" }),
    list,
    h("button", { type: "button", "data-testid": "add-param", onclick: () => add({ name: "", type: "float", low: 0, high: 1, scale: "linear" }) }, "Add hyperparameter"),
  );
  let seedCounter = 1;

  function add(p) {
    const row = { seed: seedCounter++ };
    const name = h("input", { value: p.name, "data-testid": "param-name", placeholder: "name", size: 14 });
    const type = h(
      "select",
      { "data-testid": "param-type" },
      ["float", "int", "categorical"].map((t) => h("option", { value: t }, t)),
    );
    type.value = p.type;
    const low = h("input", { value: p.low ?? "", "data-testid": "param-low", size: 9, inputmode: "decimal" });
    const high = h("input", { value: p.high ?? "", "data-testid": "param-high", size: 9, inputmode: "decimal" });
    const scale = h("select", { "data-testid": "param-scale" });
    const choices = h("input", { value: (p.choices || []).join(", "), "data-testid": "param-choices", placeholder: "a, b, c", size: 24 });
    const previewBox = h("div");
    const remove = h("button", { type: "button", class: "link", "data-testid": "remove-param", onclick: () => drop(row) }, "remove");
    const el = h("div", { class: "space-row", "data-testid": "space-row" });
    Object.assign(row, { el, name, type, low, high, scale, choices, previewBox });

    function layout() {
      const t = type.value;
      const keep = scale.value || p.scale || "linear";
      scale.replaceChildren(...(SCALES[t] || []).map((s) => h("option", { value: s }, s)));
      scale.value = (SCALES[t] || []).includes(keep) ? keep : "linear";
      const f = (k, label, control, hint) => h("span", { "data-key": k }, field(k, label, control, hint));
      el.replaceChildren(
        h(
          "div",
          { class: "row-fields", "data-key": "" },
          f("name", "name", name),
          f("type", "type", type),
          t === "categorical"
            ? f("choices", "choices", choices, "comma-separated")
            : [f("low", "low", low), f("high", "high", high), f("scale", "scale", scale)],
          remove,
          h("span", { class: "field-error", role: "alert" }),
        ),
        previewBox,
      );
      repath();
      refreshPreview();
    }
    // Error paths follow the row's name: space.<name>.<key>.
    function repath() {
      const n = name.value.trim() || "?";
      for (const box of el.querySelectorAll("[data-key]")) {
        const path = box.dataset.key ? `space.${n}.${box.dataset.key}` : `space.${n}`;
        const wrapper = box.dataset.key ? box.firstElementChild : box;
        wrapper.dataset.field = path;
        const err = box.dataset.key ? wrapper.querySelector(".field-error") : box.lastElementChild;
        err.dataset.testid = `error-${path}`;
      }
    }
    function refreshPreview() {
      previewBox.replaceChildren(preview(value(row), row.seed));
    }
    row.layout = layout;
    type.addEventListener("change", layout);
    name.addEventListener("input", repath);
    for (const c of [low, high, scale, choices]) c.addEventListener("input", refreshPreview);
    layout();
    rows.push(row);
    list.append(el);
    return row;
  }

  function drop(row) {
    rows.splice(rows.indexOf(row), 1);
    row.el.remove();
  }

  function value(row) {
    const t = row.type.value;
    if (t === "categorical") {
      const items = row.choices.value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => (s !== "" && !Number.isNaN(Number(s)) ? Number(s) : s === "true" ? true : s === "false" ? false : s));
      return { type: t, choices: items };
    }
    const parse = (s) => (s.trim() === "" ? undefined : Number(s));
    const out = { type: t, low: parse(row.low.value), high: parse(row.high.value), scale: row.scale.value };
    for (const k of ["low", "high"]) if (Number.isNaN(out[k])) out[k] = row[k].value; // the api names the error
    return out;
  }

  for (const [n, p] of Object.entries(initial)) add({ name: n, ...p });

  return {
    el: root,
    value: () => Object.fromEntries(rows.map((r) => [r.name.value.trim(), value(r)])),
  };
}
