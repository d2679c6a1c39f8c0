// The study page's notes: sampling of large studies, the curves' caption and metric picker.
import { h } from "../../dom.js";

// Returns the metric to draw (the chosen one if the curves still carry it).
export function renderNotes(el, study, data, metric) {
  el.sampleNote.textContent = data.sampled
    ? `${study.name} has ${data.finished.toLocaleString()} finished trials: the plots draw ${data.valued().rows.length.toLocaleString()} of them (the best tenth and an even spread of the rest, plus every trial that finished since this page opened); the table reads them all.`
    : "";
  const n = data.curves.size;
  // An objective that never reports has no learning curves: the panel stays out of the way
  // (History takes the row) until a first report arrives.
  el.curvesCard.hidden = n === 0;
  el.curvesRow.classList.toggle("two", n > 0);
  el.curvesNote.textContent = n ? `${n} trial${n === 1 ? "" : "s"} with reports${data.sampled ? " (the best, the newest, the running and a spread of the pruned)" : ""}` : "no intermediate reports";
  const keys = new Set(["value"]);
  for (const c of data.curves.values()) for (const k of Object.keys(c.metrics)) keys.add(k);
  if ([...keys].join() !== [...el.metric.options].map((o) => o.value).join()) {
    el.metric.replaceChildren(...[...keys].map((k) => h("option", { value: k }, k === "value" ? "reported value" : k)));
    el.metric.value = keys.has(metric) ? metric : "value";
  }
  return el.metric.value || "value";
}
