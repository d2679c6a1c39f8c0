// Re-tests: the study page's panel (timeline, rounds, schedule, "Re-test now") and the
// studies page's stale badge and next-re-test cell. The panel polls on its own, so rounds
// appear as they finish even on a completed study.
import { get, patch, post } from "../api.js";
import { h, num, when } from "../dom.js";

const POLL_MS = 1000;
const VERDICT_COLOUR = { fresh: "#2f9e44", stale: "#e03131" };

export function staleBadge(study) {
  if (!study.stale) return null;
  return h("span", { class: "status stale", "data-testid": "stale-badge", title: study.stale_reason || "" }, "stale");
}

function countdown(iso) {
  const s = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  if (s <= 0) return "due now";
  if (s < 120) return `in ${s} s`;
  if (s < 7200) return `in ${Math.round(s / 60)} min`;
  if (s < 172800) return `in ${Math.round(s / 3600)} h`;
  return `in ${Math.round(s / 86400)} d`;
}

export function nextRetestCell(study) {
  if (!study.next_retest_at) return h("span", { class: "muted", "data-testid": "next-retest" }, study.retest ? "on demand" : "—");
  return h("span", { "data-testid": "next-retest", title: when(study.next_retest_at) }, countdown(study.next_retest_at));
}

function errorText(e) {
  if (Array.isArray(e.detail)) return e.detail.map((d) => `${d.field}: ${d.msg}`).join("; ");
  if (e.detail && typeof e.detail === "object") return `${e.detail.field ? `${e.detail.field}: ` : ""}${e.detail.detail ?? ""}`;
  return e.message;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

// Past rounds coloured by verdict, the next one at its time, dataset versions as ticks.
function timeline(study, rounds, versions) {
  const W = 900;
  const H = 64;
  const now = Date.now();
  const times = [new Date(study.created_at).getTime(), now, ...rounds.map((r) => new Date(r.created_at).getTime()), ...versions.map((v) => new Date(v.created_at).getTime())];
  if (study.next_retest_at) times.push(new Date(study.next_retest_at).getTime());
  const lo = Math.min(...times);
  const hi = Math.max(...times) + 1;
  const x = (t) => 20 + ((W - 40) * (t - lo)) / (hi - lo);
  const box = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "timeline", "data-testid": "retest-timeline" });
  box.append(svg("line", { x1: 20, x2: W - 20, y1: 32, y2: 32, stroke: "#adb5bd" }));
  box.append(svg("line", { x1: x(now), x2: x(now), y1: 20, y2: 44, stroke: "#495057", "stroke-dasharray": "2 2" }));
  for (const v of versions) {
    const t = svg("line", { x1: x(new Date(v.created_at).getTime()), x2: x(new Date(v.created_at).getTime()), y1: 40, y2: 56, stroke: "#4c6ef5", "stroke-width": 2, "data-testid": "timeline-dataset" });
    t.append(svg("title", {}, `${v.ref} uploaded ${when(v.created_at)}`));
    box.append(t);
  }
  for (const r of rounds) {
    const c = svg("circle", {
      cx: x(new Date(r.created_at).getTime()), cy: 32, r: 7,
      fill: VERDICT_COLOUR[r.verdict] || "#ced4da", stroke: "#fff",
      "data-testid": "timeline-round", "data-verdict": r.verdict || r.state, "data-number": r.number,
    });
    c.append(svg("title", {}, `round ${r.number} (${r.trigger}) ${r.verdict || r.state}: ${r.reason || ""}`));
    box.append(c);
  }
  if (study.next_retest_at) {
    const nx = x(new Date(study.next_retest_at).getTime());
    box.append(svg("circle", { cx: nx, cy: 32, r: 7, fill: "none", stroke: "#495057", "stroke-dasharray": "3 2", "data-testid": "timeline-next" }));
    box.append(svg("text", { x: Math.min(nx, W - 90), y: 14, "font-size": 11, fill: "#495057" }, `next ${countdown(study.next_retest_at)}`));
  }
  return box;
}

function paramsText(params) {
  return Object.entries(params).map(([k, v]) => `${k}=${num(v)}`).join(", ");
}

function roundBlock(r) {
  const winner = r.champion ? JSON.stringify(r.champion.trial_ids) : null;
  return h(
    "div",
    { class: "retest-round", "data-testid": "retest-round", "data-number": r.number, "data-verdict": r.verdict || r.state },
    h(
      "div",
      { class: "round-head" },
      h("b", {}, `Round ${r.number}`),
      h("span", { class: "muted" }, ` ${r.trigger}${r.dataset ? ` · ${r.dataset}` : ""} · ${when(r.created_at)} `),
      h("span", { class: `status ${r.verdict || r.state}` }, r.verdict || r.state),
      r.reason ? h("span", { class: "muted reason" }, ` ${r.reason}`) : null,
    ),
    h(
      "table",
      { class: "grid small" },
      h("thead", {}, h("tr", {}, ["", "configuration", "mean ± SE", "n"].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        r.results.map((x) =>
          h(
            "tr",
            { class: JSON.stringify(x.trial_ids) === winner ? "winner" : "" },
            h("td", {}, x.origin, JSON.stringify(x.trial_ids) === winner ? " ★" : ""),
            h("td", {}, paramsText(x.params)),
            h("td", { class: "num" }, x.mean === null ? "—" : `${num(x.mean)} ± ${num(x.se ?? 0, 2)}`),
            h("td", { class: "num" }, x.n),
          ),
        ),
      ),
    ),
  );
}

function scheduleForm(study, onSaved, onError) {
  const r = study.retest || { every: "", on_new_data: false, top_k: 3, repeats: 3, explore: 2 };
  const f = {
    every: h("input", { value: r.every || "", placeholder: "7d", size: 6, "data-testid": "retest-every" }),
    onNewData: h("input", { type: "checkbox", checked: r.on_new_data, "data-testid": "retest-on-new-data" }),
    topK: h("input", { type: "number", min: 1, max: 20, value: r.top_k, "data-testid": "retest-top-k" }),
    repeats: h("input", { type: "number", min: 1, max: 10, value: r.repeats, "data-testid": "retest-repeats" }),
    explore: h("input", { type: "number", min: 0, max: 20, value: r.explore, "data-testid": "retest-explore" }),
  };
  async function save(retest) {
    try {
      onSaved(await patch(`/studies/${study.id}`, { retest }));
    } catch (e) {
      onError(errorText(e));
    }
  }
  return h(
    "div",
    { class: "toolbar retest-schedule", "data-testid": "retest-schedule" },
    h("label", {}, "every ", f.every),
    h("label", {}, f.onNewData, " on new data"),
    h("label", {}, "top k ", f.topK),
    h("label", {}, "repeats ", f.repeats),
    h("label", {}, "challengers ", f.explore),
    h("button", {
      "data-testid": "retest-save",
      onclick: () => save({ every: f.every.value.trim() || null, on_new_data: f.onNewData.checked, top_k: Number(f.topK.value), repeats: Number(f.repeats.value), explore: Number(f.explore.value) }),
    }, "Save schedule"),
    study.retest ? h("button", { class: "link", "data-testid": "retest-remove", onclick: () => save(null) }, "Remove") : null,
  );
}

// The "Re-tests" card of the study page, placed right after ``anchor``; returns a stopper.
export function mountRetestPanel(anchor, studyId) {
  let alive = true;
  let timer = null;
  let formFor = null;
  const el = {
    badge: h("span"),
    next: h("span", { class: "muted", "data-testid": "retest-next" }),
    message: h("span", { class: "error", "data-testid": "retest-error" }),
    form: h("div"),
    timeline: h("div", { class: "scroll" }),
    rounds: h("div", { "data-testid": "retest-rounds" }),
  };
  async function runNow() {
    el.message.textContent = "";
    try {
      await post(`/studies/${studyId}/retests`);
      refresh();
    } catch (e) {
      el.message.textContent = errorText(e);
    }
  }
  anchor.after(
    h(
      "section",
      { class: "card", "data-testid": "retests-card" },
      h("div", { class: "card-head" }, h("h2", {}, "Re-tests"), el.badge, el.next, h("button", { "data-testid": "retest-now", onclick: runNow }, "Re-test now")),
      el.form,
      el.message,
      el.timeline,
      el.rounds,
    ),
  );

  async function refresh() {
    clearTimeout(timer);
    try {
      const [study, rounds] = await Promise.all([get(`/studies/${studyId}`), get(`/studies/${studyId}/retests?limit=50`)]);
      const dataset = study.config.objective.kind === "train" ? study.config.objective.dataset.split("@")[0] : null;
      const versions = dataset ? (await get("/datasets?limit=1000")).data.filter((d) => d.name === dataset) : [];
      if (!alive) return;
      el.badge.replaceChildren(staleBadge(study) || "");
      el.next.textContent = study.next_retest_at ? `next re-test ${countdown(study.next_retest_at)} (${when(study.next_retest_at)})` : study.retest ? "no time schedule" : "no schedule";
      const key = JSON.stringify(study.retest);
      if (formFor !== key) {
        formFor = key;
        el.form.replaceChildren(scheduleForm(study, () => { el.message.textContent = ""; formFor = null; refresh(); }, (m) => { el.message.textContent = m; }));
      }
      el.timeline.replaceChildren(timeline(study, [...rounds.data].reverse(), versions));
      el.rounds.replaceChildren(...(rounds.data.length ? rounds.data.map(roundBlock) : [h("p", { class: "muted" }, "No round yet.")]));
    } catch (e) {
      el.message.textContent = `Could not load re-tests: ${e.message}`;
    }
    if (alive) timer = setTimeout(refresh, POLL_MS);
  }
  refresh();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}
