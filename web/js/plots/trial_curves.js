// One trial's live curves: training and validation loss with validation accuracy on a right-hand
// axis, and below them the learning rate on its own log axis. Each applied command is a
// vertical line at its step, with who, when and the note on hover. Long runs are downsampled
// (every k-th report, and always the last), so 10,000 reports draw as fast as 2,000.
import { baseLayout, draw } from "../plotly.js";
import { num, when } from "../dom.js";

const MAX_POINTS = 2000;

export function downsample(reports, max = MAX_POINTS) {
  if (reports.length <= max) return reports;
  const stride = Math.ceil(reports.length / max);
  const out = reports.filter((_, i) => i % stride === 0);
  if (out[out.length - 1] !== reports[reports.length - 1]) out.push(reports[reports.length - 1]);
  return out;
}

function series(reports, key) {
  return {
    x: reports.map((r) => r.step),
    y: reports.map((r) => (key === "value" ? r.value : r.metrics[key] ?? null)),
  };
}

export function commandText(c) {
  const what = c.action === "set" ? `set ${Object.entries(c.params).map(([k, v]) => `${k} = ${num(v, 4)}`).join(", ")}` : c.action;
  const who = c.author ? ` by ${c.author}` : "";
  return [`<b>${what}</b>${who}`, `at step ${c.applied_step} · ${when(c.applied_at || c.created_at)}`, c.note || ""]
    .filter(Boolean)
    .join("<br>");
}

export async function render(el, { reports, commands }) {
  const shown = downsample(reports);
  const line = (key, name, colour, axis, extra = {}) => ({
    type: "scatter",
    mode: shown.length < 200 ? "lines+markers" : "lines",
    marker: { size: 4, color: colour },
    line: { color: colour, width: 2 },
    name,
    xaxis: "x",
    yaxis: axis,
    ...series(shown, key),
    hovertemplate: `${name} %{y:.4g} at step %{x}<extra></extra>`,
    ...extra,
  });
  const traces = [
    line("train_loss", "train loss", "#4c6ef5", "y"),
    line("val_loss", "val loss", "#e8590c", "y"),
    line("val_accuracy", "val accuracy", "#2f9e44", "y2", { line: { color: "#2f9e44", width: 1.5, dash: "dot" } }),
    line("learning_rate", "learning rate", "#7048e8", "y3", { line: { color: "#7048e8", width: 2, shape: "hv" } }),
  ];
  const applied = commands.filter((c) => c.state === "applied" && c.applied_step !== null);
  const rates = shown.map((r) => r.metrics.learning_rate).filter((v) => v > 0);
  const top = rates.length ? Math.max(...rates) : 1;
  traces.push({
    type: "scatter",
    mode: "markers",
    name: "interventions",
    xaxis: "x",
    yaxis: "y3",
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
    xaxis: { title: { text: "step" }, zeroline: false, anchor: "y3" },
    yaxis: { title: { text: "loss" }, domain: [0.36, 1], zeroline: false },
    yaxis2: { title: { text: "accuracy" }, overlaying: "y", side: "right", range: [0, 1], tickmode: "linear", tick0: 0, dtick: 0.25, showgrid: false },
    yaxis3: { title: { text: "learning rate" }, domain: [0, 0.26], type: "log", zeroline: false },
  });
  await draw(el, traces, layout);
  el.dataset.points = String(shown.length);
  el.dataset.markers = String(applied.length);
  const last = reports[reports.length - 1];
  el.dataset.lrLast = last && last.metrics.learning_rate !== undefined ? String(last.metrics.learning_rate) : "";
  el.dataset.lastStep = last ? String(last.step) : "";
}
