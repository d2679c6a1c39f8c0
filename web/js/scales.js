// Each hyperparameter drawn on its own scale.
//
// - log: a Plotly log axis (values and shapes in real units).
// - reverse_log: a linear axis of t = -log10(1 - x), labelled in x, so 0.9, 0.99, 0.999 are
//   evenly spaced.
// - linear: a linear axis; categorical: one slot per choice (index), labelled by the choice.
// `lin(v)` maps every kind to a linear coordinate (log10 for log), for parallel coordinates.

const log10 = Math.log10;

export function kindOf(p) {
  if (p.type === "categorical") return "categorical";
  return p.scale || "linear";
}

function fmt(x) {
  return String(Number(x.toPrecision(6)));
}

function decadeTicks(lo, hi) {
  // lo, hi in log10 units; decades, and 2 and 5 when the span is short
  const vals = [];
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
    const mult = hi - lo <= 2.5 ? [1, 2, 5] : [1];
    for (const m of mult) {
      const t = k + log10(m);
      if (t >= lo - 1e-9 && t <= hi + 1e-9) vals.push(t);
    }
  }
  return vals;
}

function reverseTicks(tlo, thi) {
  // t = -log10(1 - x): 1 - 10^-k and 1 - 5·10^-(k+1) (0.9, 0.95, 0.99, 0.995, ...)
  const vals = [];
  for (let k = Math.floor(tlo); k <= Math.ceil(thi); k++) {
    for (const t of [k, k + log10(2)]) if (t >= tlo - 1e-9 && t <= thi + 1e-9) vals.push(t);
  }
  return vals;
}

function evenTicks(lo, hi, n = 5) {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

export function axisOf(name, p) {
  const kind = kindOf(p);
  const choices = p.choices || [];
  const axis = { name, kind, param: p };
  if (kind === "categorical") {
    axis.lin = (v) => choices.indexOf(v);
    axis.plot = axis.lin;
    axis.span = (b) => {
      const idx = (b.choices || choices).map((c) => choices.indexOf(c)).filter((i) => i >= 0);
      return [Math.min(...idx) - 0.4, Math.max(...idx) + 0.4];
    };
    axis.layout = () => ({
      type: "linear",
      tickvals: choices.map((_, i) => i),
      ticktext: choices.map(String),
      range: [-0.6, choices.length - 0.4],
      zeroline: false,
    });
    axis.ticks = () => ({ tickvals: choices.map((_, i) => i), ticktext: choices.map(String) });
    axis.range = () => [-0.5, choices.length - 0.5];
    return axis;
  }
  if (kind === "log") {
    axis.lin = (v) => log10(v);
    axis.plot = (v) => v;
    axis.span = (b) => [b.low, b.high];
    const lo = log10(p.low);
    const hi = log10(p.high);
    const pad = (hi - lo) * 0.03;
    // short spans: ticks at 1, 2 and 5 of each decade, written out
    const short = hi - lo <= 2;
    axis.layout = () => ({
      type: "log",
      range: [lo - pad, hi + pad],
      exponentformat: short ? "none" : "power",
      dtick: short ? "D2" : undefined,
    });
    axis.ticks = () => {
      let vals = decadeTicks(lo, hi);
      if (vals.length < 3) vals = evenTicks(lo, hi);
      return { tickvals: vals, ticktext: vals.map((t) => fmt(10 ** t)) };
    };
    axis.range = () => [lo, hi];
    return axis;
  }
  if (kind === "reverse_log") {
    axis.lin = (v) => -log10(1 - v);
    axis.plot = axis.lin;
    axis.span = (b) => [axis.lin(b.low), axis.lin(b.high)];
    const lo = axis.lin(p.low);
    const hi = axis.lin(p.high);
    axis.ticks = () => {
      let vals = reverseTicks(lo, hi);
      if (vals.length < 3) vals = evenTicks(lo, hi);
      return { tickvals: vals, ticktext: vals.map((t) => fmt(1 - 10 ** -t)) };
    };
    const pad = (hi - lo) * 0.03;
    axis.layout = () => ({ type: "linear", range: [lo - pad, hi + pad], ...axis.ticks() });
    axis.range = () => [lo, hi];
    return axis;
  }
  axis.lin = (v) => v;
  axis.plot = axis.lin;
  axis.span = (b) => [b.low, b.high];
  const pad = (p.high - p.low) * 0.03;
  axis.layout = () => ({ type: "linear", range: [p.low - pad, p.high + pad] });
  axis.ticks = () => {
    const vals = evenTicks(p.low, p.high);
    return { tickvals: vals, ticktext: vals.map(fmt) };
  };
  axis.range = () => [p.low, p.high];
  return axis;
}

// A deterministic jitter in [-0.25, 0.25] for categorical slots, from the trial number.
export function jitter(number) {
  return (((number * 0.6180339887) % 1) - 0.5) * 0.5;
}

// One random draw of a hyperparameter on its scale (for the form's preview).
export function draw(p, rand = Math.random) {
  const u = rand();
  if (p.type === "categorical") return p.choices[Math.min(p.choices.length - 1, Math.floor(u * p.choices.length))];
  const lo = Number(p.low);
  const hi = Number(p.high);
  let x;
  if (p.scale === "log") x = Math.exp(Math.log(lo) + u * (Math.log(hi) - Math.log(lo)));
  else if (p.scale === "reverse_log") x = 1 - Math.exp(Math.log(1 - lo) - u * (Math.log(1 - lo) - Math.log(1 - hi)));
  else x = lo + u * (hi - lo);
  if (p.type === "int") x = Math.min(hi, Math.max(lo, Math.round(x)));
  return x;
}

// A seeded generator (mulberry32), so a preview does not jump while one edits other fields.
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
