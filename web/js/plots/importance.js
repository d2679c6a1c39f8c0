// Hyperparameter importance as horizontal bars, the most important on top. The measure is the
// api's (api/dashboard/importance.py): the share of the variance of the objective's
// rank explained by the hyperparameter's bin (η², between 0 and 1), over completed trials.
import { num } from "../dom.js";
import { baseLayout, draw } from "../plotly.js";

export async function render(el, { data, order }) {
  const names = [...order].reverse();
  el.style.height = `${70 + 30 * names.length}px`;
  const x = names.map((n) => data.importance[n] ?? 0);
  const trace = {
    type: "bar",
    orientation: "h",
    x,
    y: names,
    text: x.map((v) => num(v, 2)),
    textposition: "outside",
    cliponaxis: false,
    hovertemplate: "%{y}: η² %{x:.3f}<extra></extra>",
    marker: { color: "#4c6ef5" },
  };
  // the api scores every hyperparameter 0 until 8 trials have completed
  const none = x.every((v) => v === 0);
  const note = { text: "importance needs at least 8 completed trials", xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false, font: { color: "#6c757d" } };
  const layout = baseLayout({
    annotations: none ? [note] : [],
    xaxis: { title: { text: "share of the objective's rank variance explained (η²)" }, range: [0, Math.max(0.05, ...x) * 1.15], zeroline: true },
    yaxis: { automargin: true },
    margin: { l: 110, r: 20, t: 10, b: 46 },
  });
  await draw(el, [trace], layout);
}
