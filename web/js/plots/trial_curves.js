// One trial's live curves: the reported `value` and every reported metric, each on the axis its
// name suggests (losses and other values on the left, accuracies on a right-hand 0-1 axis, the
// learning rate below on its own log axis), with the series shown chosen by the caller. Each
// applied command is a vertical line at its step, with who, when and the note on hover. Long
// runs are downsampled (every k-th report, and always the last), so 10,000 reports draw as fast
// as 2,000.
import { baseLayout, draw } from "../plotly.js";
import { num, when } from "../dom.js";

const MAX_POINTS = 2000;
const KNOWN = {
  value: ["value", "#212529"],
  train_loss: ["train loss", "#4c6ef5"],
  val_loss: ["val loss", "#e8590c"],
  val_accuracy: ["val accuracy", "#2f9e44"],
  learning_rate: ["learning rate", "#7048e8"],
};
const PALETTE = ["#1098ad", "#f08c00", "#d6336c", "#5c940d", "#862e9c", "#495057", "#0b7285", "#a61e4d"];

export function downsample(reports, max = MAX_POINTS) {
  if (reports.length <= max) return reports;
  const stride = Math.ceil(reports.length / max);
  const out = reports.filter((_, i) => i % stride === 0);
  if (out[out.length - 1] !== reports[reports.length - 1]) out.push(reports[reports.length - 1]);
  return out;
}

const valueOf = (r, key) => (key === "value" ? r.value : r.metrics[key] ?? null);

// "y" (left), "y2" (accuracy, 0-1) or "y3" (learning rate, log) for a series' name.
export function axisOf(key) {
  if (/(^|_)(lr|learning_rate)$/.test(key)) return "y3";
  if (/acc(uracy)?$/.test(key)) return "y2";
  return "y";
}

// The series a trial's reports offer: `value` first, then every metric name seen, sorted. Each
// is {key, label, colour, axis, same}; `same` names a metric equal to `value` at every step (a
// `train` trial's objective metric), so the caller can leave the copy out by default.
export function seriesOf(reports) {
  const names = new Set();
  for (const r of reports) for (const k of Object.keys(r.metrics || {})) names.add(k);
  const metrics = [...names].sort();
  const same = reports.length ? metrics.find((k) => reports.every((r) => r.metrics[k] === r.value)) : undefined;
  let spare = 0;
  return ["value", ...metrics].map((key) => {
    const [label, colour] = KNOWN[key] || [key.replaceAll("_", " "), PALETTE[spare++ % PALETTE.length]];
    return { key, label: key === "value" && same ? `value (= ${same})` : label, colour, axis: axisOf(key), same: key === "value" ? same : undefined };
  });
}

export function commandText(c) {
  const what = c.action === "set" ? `set ${Object.entries(c.params).map(([k, v]) => `${k} = ${num(v, 4)}`).join(", ")}` : c.action;
  const who = c.author ? ` by ${c.author}` : "";
  return [`<b>${what}</b>${who}`, `at step ${c.applied_step} · ${when(c.applied_at || c.created_at)}`, c.note || ""]
    .filter(Boolean)
    .join("<br>");
}

// The learning rate's log axis, labelled at powers of ten only (the minor labels Plotly adds
// within a decade, 2 to 9, overlap on this short axis), over the whole decades around
// `values`, so at least two labels show and at most five (past four decades, one every few).
export function decadeAxis(values) {
  const logs = values.filter((v) => Number.isFinite(v) && v > 0).map(Math.log10);
  if (!logs.length) return { type: "log", dtick: 1 };
  const lo = Math.floor(Math.min(...logs));
  const hi = Math.max(Math.ceil(Math.max(...logs)), lo + 1);
  return { type: "log", range: [lo - 0.05, hi + 0.05], tick0: 0, dtick: Math.ceil((hi - lo) / 4) };
}

// Draw `shown` (the series keys to draw, from seriesOf) of `reports`, with `commands` marked.
export async function render(el, { reports, commands, shown: keys }) {
  const points = downsample(reports);
  const chosen = seriesOf(reports).filter((s) => keys.includes(s.key));
  const lower = chosen.some((s) => s.axis === "y3");
  const traces = chosen.map((s) => ({
    type: "scatter",
    mode: points.length < 200 ? "lines+markers" : "lines",
    marker: { size: 4, color: s.colour },
    line: { color: s.colour, width: s.axis === "y" ? 2 : 1.5, dash: s.axis === "y2" ? "dot" : undefined, shape: s.axis === "y3" ? "hv" : undefined },
    name: s.label,
    xaxis: "x",
    yaxis: s.axis,
    x: points.map((r) => r.step),
    y: points.map((r) => valueOf(r, s.key)),
    hovertemplate: `${s.label} %{y:.4g} at step %{x}<extra></extra>`,
  }));
  const applied = commands.filter((c) => c.state === "applied" && c.applied_step !== null);
  const markAxis = lower ? "y3" : "y";
  const heights = chosen.filter((s) => s.axis === markAxis).flatMap((s) => points.map((r) => valueOf(r, s.key))).filter((v) => Number.isFinite(v) && (!lower || v > 0));
  const top = heights.length ? Math.max(...heights) : 1;
  const lrValues = chosen.filter((s) => s.axis === "y3").flatMap((s) => points.map((r) => valueOf(r, s.key)));
  traces.push({
    type: "scatter",
    mode: "markers",
    name: "interventions",
    xaxis: "x",
    yaxis: markAxis,
    x: applied.map((c) => c.applied_step),
    y: applied.map(() => top),
    hovertext: applied.map(commandText),
    hoverinfo: "text",
    marker: { symbol: "triangle-down", size: 11, color: "#c2255c" },
  });
  const shapes = applied.map((c) => ({
    type: "line",
    xref: "x",
    yref: "paper",
    x0: c.applied_step,
    x1: c.applied_step,
    y0: 0,
    y1: 1,
    line: { color: "#c2255c", width: 1, dash: "dash" },
  }));
  const layout = baseLayout({
    showlegend: true,
    legend: { orientation: "h", y: 1.1 },
    margin: { l: 60, r: 60, t: 30, b: 45 },
    shapes,
    xaxis: { title: { text: "step" }, zeroline: false, anchor: lower ? "y3" : "y" },
    yaxis: { title: { text: "value" }, domain: lower ? [0.36, 1] : [0, 1], zeroline: false },
    yaxis2: { title: { text: "accuracy" }, overlaying: "y", side: "right", range: [0, 1], tickmode: "linear", tick0: 0, dtick: 0.25, showgrid: false },
    ...(lower ? { yaxis3: { title: { text: "learning rate" }, domain: [0, 0.26], zeroline: false, ...decadeAxis(lrValues) } } : {}),
  });
  await draw(el, traces, layout);
  el.dataset.points = String(points.length);
  el.dataset.markers = String(applied.length);
  el.dataset.series = chosen.map((s) => s.key).join(",");
  el.dataset.drawn = String(traces.filter((t) => t.name !== "interventions" && t.y.some((v) => v !== null)).length);
  const last = reports[reports.length - 1];
  el.dataset.lrLast = last && last.metrics.learning_rate !== undefined ? String(last.metrics.learning_rate) : "";
  el.dataset.lastStep = last ? String(last.step) : "";
}
