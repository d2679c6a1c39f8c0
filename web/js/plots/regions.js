// The regions view: trials of a pair of hyperparameters on their own scales, coloured by
// objective value, with each stage's region drawn as a labelled rectangle.
import { baseLayout, draw, rgba, scatterType, stageColour } from "../plotly.js";
import { jitter } from "../scales.js";
import { trialText, valueColours } from "./common.js";

function coord(axis, r) {
  if (axis.of) return axis.of(r);
  const v = axis.plot(r.params[axis.name]);
  return axis.kind === "categorical" ? v + jitter(r.number) : v;
}

// Where an annotation goes on an axis: log axes place annotations in log10 units.
const annot = (axis, v) => (axis.kind === "log" ? Math.log10(v) : v);

export function regionShapes(regions, ax, ay) {
  const shapes = [];
  const annotations = [];
  const placed = []; // label corners as fractions of the axes; labels that nearly meet stack
  const frac = (axis, v) => {
    const [lo, hi] = axis.range ? axis.range() : [0, 1];
    const lin = axis.kind === "log" ? Math.log10(v) : v;
    return (lin - lo) / (hi - lo || 1);
  };
  for (const reg of regions) {
    const [x0, x1] = ax.span(reg.bounds[ax.name]);
    const [y0, y1] = ay.of ? ay.span() : ay.span(reg.bounds[ay.name]);
    const colour = stageColour(reg.stage);
    shapes.push({
      type: "rect",
      name: `region-${reg.id}`,
      xref: "x",
      yref: "y",
      x0,
      x1,
      y0,
      y1,
      line: { color: colour, width: 2 },
      fillcolor: rgba(colour, 0.06),
      layer: "below",
    });
    const fx = frac(ax, x0);
    const fy = frac(ay, y1);
    const stacked = placed.filter(([px, py]) => Math.abs(px - fx) < 0.04 && Math.abs(py - fy) < 0.04).length;
    placed.push([fx, fy]);
    annotations.push({
      name: `region-${reg.id}`,
      yshift: -16 * stacked,
      x: annot(ax, x0),
      y: annot(ay, y1),
      xanchor: "left",
      yanchor: "top",
      text: `stage ${reg.stage}`,
      showarrow: false,
      font: { color: colour, size: 11 },
      bgcolor: "rgba(255,255,255,0.7)",
    });
  }
  return { shapes, annotations };
}

// `y` is the axis of pair[1], or an objective axis (one with `of(row)`).
export async function render(el, { data, axes, regions, pair, direction, y }) {
  const ax = axes[pair[0]];
  const ay = y || axes[pair[1]];
  const rows = data.valued().rows;
  const names = Object.keys(axes);
  const type = scatterType(rows.length);
  const traces = [];
  // One colour scale for every state: pruned points mean the same value as completed ones.
  const completed = rows.filter((r) => r.state === "completed").map((r) => r.value);
  const scale = valueColours(completed.length ? completed : rows.map((r) => r.value), direction);
  for (const [state, symbol] of [
    ["completed", "circle"],
    ["pruned", "x"],
  ]) {
    const rs = rows.filter((r) => r.state === state);
    if (!rs.length) continue;
    traces.push({
      type,
      mode: "markers",
      name: state,
      x: rs.map((r) => coord(ax, r)),
      y: rs.map((r) => coord(ay, r)),
      hovertext: rs.map((r) => trialText(r, names)),
      hoverinfo: "text",
      customdata: rs.map((r) => r.number),
      marker: {
        size: rows.length > 3000 ? 4 : 7,
        symbol,
        opacity: state === "pruned" ? 0.6 : 0.9,
        ...scale,
        color: rs.map((r) => r.value),
        showscale: state === "completed",
        colorbar: state === "completed" ? { title: { text: "objective" }, thickness: 12 } : undefined,
      },
    });
  }
  const best = data.bestRow();
  if (best) {
    traces.push({
      type: "scatter",
      mode: "markers",
      name: "best",
      x: [coord(ax, best)],
      y: [coord(ay, best)],
      hovertext: [trialText(best, names)],
      hoverinfo: "text",
      marker: { symbol: "star", size: 16, color: "#e03131", line: { color: "#fff", width: 1 } },
    });
  }
  const { shapes, annotations } = regionShapes(regions, ax, ay);
  const layout = baseLayout({
    xaxis: { title: { text: `${ax.name} (${ax.kind})` }, ...ax.layout() },
    yaxis: { title: { text: `${ay.name} (${ay.kind})` }, ...ay.layout() },
    shapes,
    annotations,
    margin: { l: 70, r: 10, t: 10, b: 50 },
  });
  await draw(el, traces, layout);
}
