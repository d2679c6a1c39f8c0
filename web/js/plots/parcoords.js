// Parallel coordinates over the hyperparameters (each on its own scale) and the objective.
// On a real GPU: Plotly's WebGL parcoords (with brushing). Otherwise: the same axes drawn as SVG
// lines, one trace per colour band (a CPU rasteriser takes about a second to start parcoords).
import { baseLayout, draw, webgl } from "../plotly.js";
import { num } from "../dom.js";
import { spansDecades, valueColours } from "./common.js";

export const MAX_LINES = 1000;

function pick(rows, direction) {
  if (rows.length <= MAX_LINES) return rows;
  // the best tenth and an even spread of the rest
  const sign = direction === "maximize" ? -1 : 1;
  const ranked = [...rows].sort((a, b) => sign * (a.value - b.value));
  const keep = new Set(ranked.slice(0, MAX_LINES / 10));
  const rest = rows.filter((r) => !keep.has(r));
  const step = rest.length / (MAX_LINES - keep.size);
  for (let i = 0; keep.size < MAX_LINES; i++) keep.add(rest[Math.floor(i * step)]);
  return [...keep];
}

function dimensions(rows, axes, order) {
  const dims = order.map((name) => {
    const ax = axes[name];
    return { label: name, values: rows.map((r) => ax.lin(r.params[name])), range: ax.range(), ...ax.ticks() };
  });
  dims.push(objectiveDimension(rows.map((r) => r.value)));
  return dims;
}

// The objective's axis: log10 of the values (ticks at powers of ten) when they span decades.
function objectiveDimension(raw) {
  const log = spansDecades(raw);
  const values = log ? raw.map(Math.log10) : raw;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  let ticks = Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4);
  if (log) ticks = Array.from({ length: Math.floor(hi) - Math.ceil(lo) + 1 }, (_, i) => Math.ceil(lo) + i);
  const text = ticks.map((v) => num(log ? 10 ** v : v, 3));
  return { label: "objective", scale: log ? "log" : "linear", values, range: [lo, hi > lo ? hi : lo + 1], tickvals: ticks, ticktext: text };
}

export async function render(el, { data, axes, order, direction }) {
  const rows = pick(data.valued().rows, direction);
  const values = rows.map((r) => r.value);
  const colours = valueColours(values, direction);
  const dims = dimensions(rows, axes, order);
  el.dataset.objectiveScale = dims[dims.length - 1].scale;
  if (webgl() === "hardware") {
    const trace = {
      type: "parcoords",
      dimensions: dims.map(({ scale, ...d }) => d),
      line: { ...colours, showscale: true, colorbar: { thickness: 12 } },
      labelangle: 0,
    };
    await draw(el, [trace], baseLayout({ margin: { l: 60, r: 80, t: 40, b: 20 } }));
    return;
  }
  await draw(el, svgTraces(rows, dims, colours), svgLayout(dims));
}

const BANDS = 10;

function svgTraces(rows, dims, colours) {
  const unit = (d, v) => (v - d.range[0]) / (d.range[1] - d.range[0]);
  const { cmin, cmax } = colours;
  const band = (v) => Math.max(0, Math.min(BANDS - 1, Math.floor(((v - cmin) / (cmax - cmin)) * BANDS)));
  const groups = Array.from({ length: BANDS }, () => ({ x: [], y: [], text: [] }));
  rows.forEach((r, i) => {
    const g = groups[band(r.value)];
    dims.forEach((d, k) => {
      g.x.push(k);
      g.y.push(unit(d, d.values[i]));
      g.text.push(`trial #${r.number}: ${d.label} = ${num(d.label === "objective" ? r.value : r.params[d.label], 5)}`);
    });
    g.x.push(null);
    g.y.push(null);
    g.text.push("");
  });
  // Viridis, reversed when lower is better (as in the other plots)
  const viridis = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
  const scale = colours.reversescale ? [...viridis].reverse() : viridis;
  const traces = groups.map((g, b) => ({
    type: "scatter",
    mode: "lines",
    x: g.x,
    y: g.y,
    hovertext: g.text,
    hoverinfo: "text",
    line: { color: scale[b], width: 1 },
    opacity: 0.5,
  }));
  traces.push({
    type: "scatter",
    mode: "markers",
    x: [0],
    y: [0],
    hoverinfo: "skip",
    marker: { size: 0.1, opacity: 0, ...colours, showscale: true, colorbar: { thickness: 12, title: { text: "objective" } } },
  });
  return traces;
}

function svgLayout(dims) {
  const shapes = dims.map((_, k) => ({ type: "line", x0: k, x1: k, y0: 0, y1: 1, line: { color: "#495057", width: 1 }, layer: "above" }));
  const annotations = [];
  dims.forEach((d, k) => {
    annotations.push({ x: k, y: 1.04, text: `<b>${d.label}</b>`, showarrow: false, yanchor: "bottom" });
    d.tickvals.forEach((v, i) => {
      const u = (v - d.range[0]) / (d.range[1] - d.range[0]);
      if (u < -1e-9 || u > 1 + 1e-9) return;
      annotations.push({ x: k, y: u, text: d.ticktext[i], showarrow: false, xanchor: "right", xshift: -3, font: { size: 10, color: "#495057" } });
    });
  });
  return baseLayout({
    xaxis: { visible: false, range: [-0.35, dims.length - 0.8] },
    yaxis: { visible: false, range: [-0.03, 1.1] },
    shapes,
    annotations,
    margin: { l: 30, r: 10, t: 10, b: 10 },
  });
}
