// Learning curves: every listed trial's reports by step; pruned trials end in a marker where they
// were cut, with the prune reason on hover, and a person's interventions (set, pause, resume,
// stop) are marked on the curve at the step of the first report that shows them. Curves of one
// kind share a trace (gaps between trials), so hundreds of curves stay cheap to draw.
import { baseLayout, draw } from "../plotly.js";
import { num } from "../dom.js";
import { pruneText, valueAxis } from "./common.js";

const KINDS = [
  ["completed", "#4c6ef5", 1],
  ["pruned", "#f08c00", 1],
  ["running", "#2f9e44", 2],
  ["other", "#adb5bd", 1],
];

function kindOf(state) {
  return ["completed", "pruned", "running"].includes(state) ? state : "other";
}

// The index of the last step at or before `step` (steps ascending), or -1.
function lastAtOrBefore(steps, step) {
  let at = -1;
  for (let i = 0; i < steps.length && steps[i] <= step; i++) at = i;
  return at;
}

function interventionText(m) {
  if (m.action !== "set") return m.action;
  return `set ${Object.entries(m.params).map(([k, v]) => `${k} = ${num(v, 4)}`).join(", ")}`;
}

export async function render(el, { data, metric }) {
  const groups = Object.fromEntries(KINDS.map(([k]) => [k, { x: [], y: [], text: [] }]));
  const cuts = { x: [], y: [], text: [], number: [] };
  const marks = { x: [], y: [], text: [], number: [] };
  const ys = [];
  for (const [number, c] of [...data.curves.entries()].sort((a, b) => a[0] - b[0])) {
    const vals = metric === "value" ? c.value : c.metrics[metric] || [];
    if (!vals.length) continue;
    const g = groups[kindOf(c.state)];
    for (let i = 0; i < c.step.length; i++) {
      if (vals[i] === null || vals[i] === undefined) continue;
      g.x.push(c.step[i]);
      g.y.push(vals[i]);
      g.text.push(`trial #${number} · ${c.state}<br>step ${c.step[i]}: ${num(vals[i], 6)}`);
      ys.push(vals[i]);
    }
    g.x.push(null);
    g.y.push(null);
    g.text.push("");
    for (const m of c.interventions || []) {
      const at = lastAtOrBefore(c.step, m.step);
      if (at < 0 || vals[at] === null || vals[at] === undefined) continue;
      marks.x.push(m.step);
      marks.y.push(vals[at]);
      marks.number.push(number);
      marks.text.push([`trial #${number}: <b>${interventionText(m)}</b> at step ${m.step}`, m.note || ""].filter(Boolean).join("<br>"));
    }
    if (c.state === "pruned") {
      const last = c.step.length - 1;
      cuts.x.push(c.step[last]);
      cuts.y.push(vals[last]);
      cuts.number.push(number);
      cuts.text.push(`trial #${number}<br>${pruneText(c.prune_reason)}`);
    }
  }
  const few = ys.length < 400;
  const traces = KINDS.filter(([k]) => groups[k].x.length).map(([k, colour, width]) => ({
    type: "scatter",
    mode: few ? "lines+markers" : "lines",
    marker: { size: 4, color: colour },
    name: k,
    x: groups[k].x,
    y: groups[k].y,
    hovertext: groups[k].text,
    hoverinfo: "text",
    connectgaps: false,
    line: { color: colour, width },
    opacity: k === "completed" ? 0.55 : 0.8,
  }));
  if (cuts.x.length) {
    traces.push({
      type: "scatter",
      mode: "markers",
      name: "pruned here",
      x: cuts.x,
      y: cuts.y,
      hovertext: cuts.text,
      hoverinfo: "text",
      customdata: cuts.number,
      marker: { symbol: "x", size: 9, color: "#e03131", line: { width: 1 } },
    });
  }
  if (marks.x.length) {
    traces.push({
      type: "scatter",
      mode: "markers",
      name: "interventions",
      x: marks.x,
      y: marks.y,
      hovertext: marks.text,
      hoverinfo: "text",
      customdata: marks.number,
      marker: { symbol: "triangle-down", size: 10, color: "#c2255c" },
    });
  }
  const empty = !traces.length;
  const layout = baseLayout({
    annotations: empty ? [{ text: "no intermediate reports yet", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { color: "#868e96" } }] : [],
    xaxis: { title: { text: "step" }, zeroline: false, visible: !empty },
    yaxis: { ...valueAxis(ys, metric === "value" ? "reported value" : metric), visible: !empty },
    showlegend: true,
    legend: { orientation: "h", y: 1.12 },
    margin: { l: 60, r: 10, t: 30, b: 45 },
  });
  await draw(el, traces, layout);
  el.dataset.cuts = String(cuts.x.length);
  el.dataset.interventions = String(marks.x.length);
}
