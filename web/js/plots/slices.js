// Slice strips: the objective against each hyperparameter on its own scale, with each stage's
// region drawn as a band. Up to MAX strips, the most important first.
import { baseLayout, draw, rgba, scatterType, stageColour } from "../plotly.js";
import { jitter } from "../scales.js";
import { trialText, valueAxis, valueColours } from "./common.js";

export const MAX = 8;

export async function render(el, { data, axes, regions, order, direction }) {
  const names = order.slice(0, MAX);
  const all = Object.keys(axes);
  const rows = data.valued().rows;
  const type = scatterType(rows.length * names.length);
  const n = names.length;
  const cols = Math.min(n, 4);
  const nrows = Math.ceil(n / cols);
  const gap = 0.04;
  const traces = [];
  const shapes = [];
  const layout = baseLayout({ margin: { l: 60, r: 10, t: 24, b: 40 }, annotations: [] });
  const values = rows.map((r) => r.value);
  const colours = valueColours(values, direction);
  const texts = rows.map((row) => trialText(row, all));
  names.forEach((name, k) => {
    const ax = axes[name];
    const c = k % cols;
    const r = Math.floor(k / cols);
    const xa = k === 0 ? "x" : `x${k + 1}`;
    const ya = k === 0 ? "y" : `y${k + 1}`;
    const xd = [c / cols + gap / 2, (c + 1) / cols - gap / 2];
    const yd = [1 - (r + 1) / nrows + 0.12 / nrows, 1 - r / nrows - 0.08 / nrows];
    const xl = ax.kind === "categorical" ? ax.layout() : { ...ax.layout() };
    layout[`xaxis${k === 0 ? "" : k + 1}`] = { ...xl, domain: xd, anchor: ya };
    layout[`yaxis${k === 0 ? "" : k + 1}`] = {
      ...valueAxis(values, c === 0 ? "objective" : ""),
      domain: yd,
      anchor: xa,
      matches: k === 0 ? undefined : "y",
      showticklabels: c === 0,
    };
    layout.annotations.push({
      text: `<b>${name}</b> <span style="color:#888">(${ax.kind})</span>`,
      xref: `${xa} domain`,
      yref: `${ya} domain`,
      x: 0,
      y: 1.02,
      xanchor: "left",
      yanchor: "bottom",
      showarrow: false,
    });
    traces.push({
      type,
      mode: "markers",
      xaxis: xa,
      yaxis: ya,
      x: rows.map((row) => ax.plot(row.params[name]) + (ax.kind === "categorical" ? jitter(row.number) : 0)),
      y: values,
      hovertext: texts,
      hoverinfo: "text",
      customdata: rows.map((row) => row.number),
      marker: { size: 4, opacity: 0.8, ...colours },
    });
    for (const reg of regions) {
      if (reg.stage === 0) continue;
      const [x0, x1] = ax.span(reg.bounds[name]);
      shapes.push({
        type: "rect",
        name: `band-${name}-${reg.id}`,
        xref: xa,
        yref: `${ya} domain`,
        x0,
        x1,
        y0: 0,
        y1: 1,
        line: { width: 0 },
        fillcolor: rgba(stageColour(reg.stage), 0.08),
        layer: "below",
      });
    }
  });
  layout.shapes = shapes;
  layout.height = 230 * nrows + 40;
  el.style.height = `${layout.height}px`;
  await draw(el, traces, layout);
}
