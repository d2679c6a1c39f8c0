// The regions card's pickers (hyperparameters ranked by importance) and its region list.
import { h, num } from "../../dom.js";

// Hyperparameter names, most important first (space order breaks ties).
export function byImportance(names, importance) {
  return [...names].sort((a, b) => (importance[b] ?? 0) - (importance[a] ?? 0) || names.indexOf(a) - names.indexOf(b));
}

export function fillPickers(el, names, data) {
  const opts = (sel, chosen, extra) => {
    sel.replaceChildren(
      ...byImportance(names, data.importance).map((n) => h("option", { value: n }, `${n} (${num(data.importance[n] ?? 0, 2)})`)),
      ...(extra ? [h("option", { value: "objective" }, "objective")] : []),
    );
    sel.value = chosen;
  };
  const [x, y] = data.pair;
  opts(el.pairX, x, false);
  opts(el.pairY, y ?? "objective", true);
}

export function renderRegionList(el, names, regions) {
  el.regionList.replaceChildren(
    h(
      "table",
      { class: "grid small", "data-testid": "region-list" },
      h("thead", {}, h("tr", {}, h("th", {}, "stage"), h("th", {}, "region"), h("th", {}, "parent"), h("th", {}, "trials"), names.map((n) => h("th", {}, n)))),
      h(
        "tbody",
        {},
        regions.map((r) =>
          h(
            "tr",
            { "data-testid": "region-row", "data-stage": r.stage },
            h("td", {}, r.stage),
            h("td", {}, r.id),
            h("td", {}, r.parent ?? "—"),
            h("td", {}, r.trials),
            names.map((n) => {
              const b = r.bounds[n];
              return h("td", { class: "num" }, b.choices ? b.choices.join(", ") : `${num(b.low, 4)} – ${num(b.high, 4)}`);
            }),
          ),
        ),
      ),
    ),
  );
}
