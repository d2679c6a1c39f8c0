// The trial page's series chooser: a checkbox for each series the reports offer (`value` and
// every reported metric). A series appears checked when first seen, except `value` when a
// metric carries the same numbers (a `train` trial's objective metric); a person's choice is
// kept across polls and new attempts.
import { h } from "../dom.js";

export function curveChoice(onChange) {
  const el = h("div", { class: "chips curve-choice", "data-testid": "curve-choice" });
  const picked = new Map(); // series key -> shown
  let offered = "";

  // `series` from plots/trial_curves.seriesOf; defaults are settled once reports exist.
  function update(series, settled) {
    if (settled) for (const s of series) if (!picked.has(s.key)) picked.set(s.key, !(s.key === "value" && s.same));
    const signature = series.map((s) => `${s.key}:${s.label}`).join("|");
    if (signature === offered) return;
    offered = signature;
    el.replaceChildren(
      ...series.map((s) =>
        h(
          "label",
          { class: "chip", "data-testid": "curve-option", "data-key": s.key },
          h("input", {
            type: "checkbox",
            checked: picked.get(s.key) ?? true,
            onchange: (e) => {
              picked.set(s.key, e.target.checked);
              onChange();
            },
          }),
          h("span", { style: `display:inline-block;width:14px;height:3px;background:${s.colour}` }),
          s.label,
        ),
      ),
    );
  }

  const shown = (series) => series.filter((s) => picked.get(s.key) ?? true).map((s) => s.key);
  return { el, update, shown };
}
