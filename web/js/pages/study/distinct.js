// The "Grid vs random" card: distinct values per hyperparameter for the study's budget.
import { get } from "../../api.js";
import { h } from "../../dom.js";

export async function loadDistinct(el, id) {
  try {
    const d = await get(`/studies/${id}/dashboard/distinct`);
    el.distinct.replaceChildren(
      h(
        "p",
        { class: "muted" },
        `Distinct values tried with a budget of ${d.trials} trials: a grid of ${d.points_per_param} points per hyperparameter, against random search, which draws every hyperparameter afresh in every trial (the expected count, rounded).`,
      ),
      h(
        "table",
        { class: "grid small" },
        h("thead", {}, h("tr", {}, h("th", {}, "hyperparameter"), h("th", {}, "grid"), h("th", {}, "random"))),
        h("tbody", {}, Object.entries(d.params).map(([n, v]) => h("tr", {}, h("td", {}, n), h("td", { class: "num" }, v.grid), h("td", { class: "num", title: `expected ${v.random}` }, Math.round(v.random))))),
      ),
    );
  } catch (e) {
    el.distinct.textContent = `—`;
  }
}
