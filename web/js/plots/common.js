// Shared pieces of the study plots: colours by objective value, hover text, a value axis.
import { num } from "../dom.js";

// A colour scale where the best values are bright, clipped to the 2nd–90th percentile so a few
// terrible trials do not wash the others out.
export function valueColours(values, direction) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const q = (f) => sorted[Math.min(sorted.length - 1, Math.floor(f * (sorted.length - 1)))];
  const lo = sorted.length ? (direction === "maximize" ? q(0.1) : q(0.02)) : 0;
  const hi = sorted.length ? (direction === "maximize" ? q(0.98) : q(0.9)) : 1;
  return {
    color: values,
    colorscale: "Viridis",
    reversescale: direction !== "maximize",
    cmin: lo,
    cmax: hi > lo ? hi : lo + 1,
  };
}

export function trialText(r, names) {
  const lines = [`<b>trial #${r.number}</b> · ${r.state} · stage ${r.stage}`, `value ${num(r.value, 6)}`];
  for (const n of names) lines.push(`${n} = ${num(r.params[n], 5)}`);
  if (r.prune_reason) lines.push(pruneText(r.prune_reason));
  return lines.join("<br>");
}

export function pruneText(reason) {
  if (!reason) return "pruned";
  const parts = [`pruned by ${reason.pruner ?? "pruner"}`];
  if (reason.rung !== undefined) parts.push(`rung ${reason.rung}`);
  if (reason.step !== undefined) parts.push(`at step ${reason.step}`);
  if (reason.value !== undefined) parts.push(`value ${num(reason.value, 5)}`);
  if (reason.threshold !== undefined) parts.push(`worse than ${num(reason.threshold, 5)}`);
  return parts.join(" ");
}

// The one rule for a log objective axis: positive values that span more than three decades.
export function spansDecades(values) {
  const pos = values.filter((v) => Number.isFinite(v));
  const min = Math.min(...pos);
  const max = Math.max(...pos);
  return pos.length > 1 && min > 0 && max / min > 1e3;
}

export function valueAxis(values, title = "objective") {
  return { title: { text: title }, type: spansDecades(values) ? "log" : "linear", zeroline: false };
}
