// History: the objective of each trial by number, coloured by stage, and the best so far.
import { baseLayout, draw, scatterType, stageColour } from "../plotly.js";
import { trialText, valueAxis } from "./common.js";

export async function render(el, { data, axes }) {
  const rows = data.valued().rows;
  const names = Object.keys(axes);
  const type = scatterType(rows.length);
  const byStage = new Map();
  for (const r of rows) {
    if (!byStage.has(r.stage)) byStage.set(r.stage, []);
    byStage.get(r.stage).push(r);
  }
  const traces = [...byStage.keys()]
    .sort((a, b) => a - b)
    .map((stage) => {
      const rs = byStage.get(stage);
      return {
        type,
        mode: "markers",
        name: `stage ${stage}`,
        x: rs.map((r) => r.number),
        y: rs.map((r) => r.value),
        hovertext: rs.map((r) => trialText(r, names)),
        hoverinfo: "text",
        marker: {
          size: rows.length > 3000 ? 3 : 6,
          color: stageColour(stage),
          symbol: rs.map((r) => (r.state === "pruned" ? "x" : "circle")),
          opacity: 0.75,
        },
      };
    });
  const b = data.best;
  if (b.number.length) {
    traces.push({
      type: "scatter",
      mode: "lines",
      name: "best so far",
      x: [...b.number, Math.max(data.cursor, b.number.at(-1))],
      y: [...b.value, b.value.at(-1)],
      line: { shape: "hv", color: "#e03131", width: 2 },
      hovertemplate: "best so far %{y}<extra></extra>",
    });
  }
  const layout = baseLayout({
    xaxis: { title: { text: "trial number" }, zeroline: false, dtick: data.cursor < 10 ? 1 : undefined },
    yaxis: valueAxis(rows.map((r) => r.value)),
    showlegend: true,
    legend: { orientation: "h", y: 1.12 },
    margin: { l: 60, r: 10, t: 30, b: 45 },
  });
  await draw(el, traces, layout);
}
