// The study page's skeleton: its cards and the elements the views draw into.
import { h } from "../../dom.js";

export function card(title, testid, ...body) {
  return h("section", { class: "card", "data-testid": testid }, h("h2", {}, title), ...body);
}

export function plotBox(testid, height) {
  return h("div", { class: "plot", "data-testid": testid, style: `height:${height}px` });
}

// Builds the page's elements (callbacks: onPair, onMetric) and appends the cards to root.
export function layout(root, { onPair, onMetric }) {
  const el = {
    head: h("section", { class: "card study-head", "data-testid": "study-head" }, h("p", { class: "muted" }, "Loading…")),
    pairX: h("select", { "data-testid": "pair-x", onchange: onPair }),
    pairY: h("select", { "data-testid": "pair-y", onchange: onPair }),
    regions: plotBox("plot-regions", 480),
    regionList: h("div", { class: "scroll" }),
    slices: plotBox("plot-slices", 260),
    history: plotBox("plot-history", 340),
    curves: plotBox("plot-curves", 340),
    importance: h("div", { class: "plot", "data-testid": "plot-importance" }),
    curvesNote: h("span", { class: "muted", "data-testid": "curves-note" }),
    metric: h("select", { "data-testid": "curve-metric", onchange: (e) => onMetric(e.target.value) }),
    parcoords: plotBox("plot-parcoords", 380),
    sampleNote: h("p", { class: "muted", "data-testid": "sample-note" }),
    live: h("span", { class: "live", "data-testid": "live-status" }),
    tableBox: h("div"),
    distinct: h("div", { "data-testid": "distinct" }),
  };
  el.curvesCard = card("Learning curves", "curves-card", h("div", { class: "toolbar" }, h("label", {}, "metric ", el.metric), el.curvesNote), el.curves);
  el.curvesRow = h("div", { class: "two" }, card("History", "history-card", el.history), el.curvesCard);
  root.append(
    el.head,
    el.sampleNote,
    card(
      "Regions",
      "regions-card",
      h("div", { class: "toolbar" }, h("label", {}, "x ", el.pairX), h("label", {}, "y ", el.pairY), h("span", { class: "muted" }, "pairs ranked by importance")),
      el.regions,
      el.regionList,
    ),
    card(
      "Hyperparameter importance",
      "importance-card",
      h("p", { class: "muted" }, "How much of the variation in the objective's rank each hyperparameter explains (η² over ten equal-count bins of its own scale, one bin per choice; completed trials). 0: none; 1: all of it."),
      el.importance,
    ),
    card("Slices", "slices-card", h("p", { class: "muted" }, "The objective against each hyperparameter on its own scale; bands are the regions of later stages."), el.slices),
    el.curvesRow,
    card("Parallel coordinates", "parcoords-card", el.parcoords),
    card("Trials", "trials-card", el.tableBox),
    card("Grid vs random", "distinct-card", el.distinct),
  );
  return el;
}
