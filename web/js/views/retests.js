// Re-tests: the study page's panel (timeline, rounds, schedule, "Re-test now") and the
// studies page's stale badge and next-re-test cell. The panel polls on its own, so rounds
// appear as they finish even on a completed study.
import { errorText, get, patch, post } from "../api.js";
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

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

// The timeline's dated axis: "nice" steps from a minute to a year, at most ~7 ticks.
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const STEPS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY];
const pad = (n) => String(n).padStart(2, "0");
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// "Dec 7 18:30" (local time); the year too when it is not this year; no time for day steps.
export function dateLabel(t, step) {
  const d = new Date(t);
  const year = d.getFullYear() !== new Date().getFullYear() ? ` ${d.getFullYear()}` : "";
  const day = `${MONTHS[d.getMonth()]} ${d.getDate()}${year}`;
  return step >= DAY ? day : `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function ticks(lo, hi) {
  const step = STEPS.find((s) => (hi - lo) / s <= 6) || STEPS[STEPS.length - 1];
  const offset = step >= DAY ? new Date(lo).getTimezoneOffset() * MINUTE : 0; // local midnights
  const out = [];
  for (let t = Math.ceil((lo - offset) / step) * step + offset; t <= hi; t += step) out.push(t);
  return { step, at: out };
}

function score(x) {
  return x.mean === null || x.mean === undefined ? "no result" : `${num(x.mean)} ± ${num(x.se ?? 0, 2)} (n=${x.n})`;
}

// What a round's dot says on hover: when, the verdict, the champion against its challengers.
function roundHover(r) {
  const won = r.champion ? JSON.stringify(r.champion.trial_ids) : null;
  const head = `Round ${r.number} · ${r.verdict || r.state} · ${when(r.created_at)} · ${r.trigger}${r.dataset ? ` on ${r.dataset}` : ""}`;
  const rows = r.results.map((x, i) => [
    i === 0 ? "champion" : `challenger #${i} (${x.origin})`,
    score(x),
    JSON.stringify(x.trial_ids) === won ? "★" : "",
  ]);
  return h(
    "div",
    {},
    h("b", {}, head),
    h("table", {}, h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))))),
    r.reason ? h("div", { class: "reason" }, r.reason) : null,
  );
}

// Past rounds coloured by verdict on a dated axis, the next one at its date, dataset versions
// as labelled ticks; "no schedule" when there is nothing to draw.
function timeline(study, rounds, versions) {
  if (!rounds.length && !study.next_retest_at) {
    return h(
      "p",
      { class: "muted timeline-empty", "data-testid": "timeline-empty" },
      study.retest ? "No round yet, and no time schedule: rounds start on new data or with Re-test now." : "No schedule: set one below, or re-test now.",
    );
  }
  const W = 900;
  const H = 104;
  const Y = 44;
  const now = Date.now();
  const times = [now, ...rounds.map((r) => new Date(r.created_at).getTime()), ...versions.map((v) => new Date(v.created_at).getTime())];
  if (study.next_retest_at) times.push(new Date(study.next_retest_at).getTime());
  let lo = Math.min(...times);
  let hi = Math.max(...times);
  const margin = Math.max((hi - lo) * 0.06, MINUTE);
  lo -= margin;
  hi += margin;
  const x = (t) => 30 + ((W - 60) * (t - lo)) / (hi - lo);
  const wrap = h("div", { class: "timeline-wrap" });
  const tip = h("div", { class: "timeline-tip", "data-testid": "timeline-hover", hidden: true });
  const box = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "timeline", "data-testid": "retest-timeline" });
  box.append(svg("line", { x1: 30, x2: W - 30, y1: Y, y2: Y, stroke: "#adb5bd" }));
  const axis = ticks(lo, hi);
  for (const t of axis.at) {
    box.append(svg("line", { x1: x(t), x2: x(t), y1: Y, y2: Y + 5, stroke: "#868e96" }));
    box.append(svg("text", { x: x(t), y: Y + 18, "font-size": 11, fill: "#495057", "text-anchor": "middle", "data-testid": "timeline-tick", "data-time": new Date(t).toISOString() }, dateLabel(t, axis.step)));
  }
  box.append(svg("line", { x1: x(now), x2: x(now), y1: Y - 12, y2: Y + 12, stroke: "#495057", "stroke-dasharray": "2 2" }));
  box.append(svg("text", { x: x(now), y: Y - 15, "font-size": 10, fill: "#868e96", "text-anchor": "middle" }, "now"));
  let lastLabel = -Infinity;
  let row = 0;
  const byTime = [...versions].sort((a, b) => new Date(a.created_at) - new Date(b.created_at));
  for (const v of byTime) {
    const vx = x(new Date(v.created_at).getTime());
    row = vx - lastLabel < 8 * v.ref.length ? 1 - row : 0; // close labels take turns on two rows
    lastLabel = vx;
    const g = svg("g", { "data-testid": "timeline-dataset", "data-ref": v.ref });
    g.append(svg("line", { x1: vx, x2: vx, y1: Y + 24, y2: Y + 40 + 12 * row, stroke: "#4c6ef5", "stroke-width": 2 }));
    g.append(svg("text", { x: vx + 3, y: Y + 40 + 12 * row, "font-size": 11, fill: "#4c6ef5" }, v.ref));
    g.append(svg("title", {}, `${v.ref} uploaded ${when(v.created_at)}`));
    box.append(g);
  }
  for (const r of rounds) {
    const cx = x(new Date(r.created_at).getTime());
    const c = svg("circle", {
      cx, cy: Y, r: 7,
      fill: VERDICT_COLOUR[r.verdict] || "#ced4da", stroke: "#fff",
      class: "timeline-dot",
      "data-testid": "timeline-round", "data-verdict": r.verdict || r.state, "data-number": r.number,
    });
    c.addEventListener("mouseenter", () => {
      tip.replaceChildren(roundHover(r));
      tip.hidden = false;
      // Anchored at the dot, kept inside the card: left-aligned, centred or right-aligned.
      const at = cx / W;
      tip.style.left = `${100 * at}%`;
      tip.style.transform = `translateX(${at < 0.3 ? -8 : at > 0.7 ? -100 : -50}%)`;
    });
    c.addEventListener("mouseleave", () => { tip.hidden = true; });
    box.append(c);
  }
  if (study.next_retest_at) {
    const t = new Date(study.next_retest_at).getTime();
    const nx = x(t);
    box.append(svg("circle", { cx: nx, cy: Y, r: 7, fill: "none", stroke: "#495057", "stroke-dasharray": "3 2", "data-testid": "timeline-next" }));
    box.append(svg("text", { x: nx, y: Y - 15, "font-size": 11, fill: "#495057", "text-anchor": nx > W - 120 ? "end" : "middle", "data-testid": "timeline-next-label" }, `next ${dateLabel(t, 0)}`));
  } else {
    box.append(svg("text", { x: W - 30, y: Y - 15, "font-size": 11, fill: "#868e96", "text-anchor": "end", "data-testid": "timeline-next-label" }, study.retest ? "no time schedule" : "no schedule"));
  }
  const legend = h(
    "div",
    { class: "timeline-legend muted" },
    h("span", { class: "dot fresh" }), " fresh ",
    h("span", { class: "dot stale" }), " stale ",
    h("span", { class: "dot running" }), " running or no verdict ",
    h("span", { class: "dot next" }), " next round ",
    versions.length ? [h("span", { class: "tick" }), " dataset version"] : null,
  );
  wrap.append(box, tip, legend);
  return wrap;
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
        r.results.map((x, i) =>
          h(
            "tr",
            { class: JSON.stringify(x.trial_ids) === winner ? "winner" : "" },
            h("td", {}, i === 0 ? "champion" : `challenger #${i} (${x.origin})`, JSON.stringify(x.trial_ids) === winner ? " ★" : ""),
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
  let timelineFor = null;
  const el = {
    badge: h("span"),
    next: h("span", { class: "muted", "data-testid": "retest-next" }),
    champion: h("p", { class: "muted retest-champion", "data-testid": "retest-champion" }),
    message: h("span", { class: "error", "data-testid": "retest-error" }),
    form: h("div"),
    timeline: h("div"),
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
      el.champion,
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
      // The round's champion beside the search's best: a round never changes ``best``.
      el.champion.textContent = study.champion
        ? `Champion after the latest judged round: ${num(study.champion.value)} (the mean of its repeats there), ${paramsText(study.champion.params)}. The study's best stays its best search trial${study.best ? `: ${num(study.best.value)} (trial #${study.best.number})` : ""}.`
        : "";
      el.next.textContent = study.next_retest_at ? `next re-test ${countdown(study.next_retest_at)} (${when(study.next_retest_at)})` : study.retest ? "no time schedule" : "no schedule";
      const key = JSON.stringify(study.retest);
      if (formFor !== key) {
        formFor = key;
        el.form.replaceChildren(scheduleForm(study, () => { el.message.textContent = ""; formFor = null; refresh(); }, (m) => { el.message.textContent = m; }));
      }
      // Drawn again only when something on it changed (a hovered round keeps its numbers open).
      const drawn = JSON.stringify([study.retest, study.next_retest_at, rounds.data, versions, Math.floor(Date.now() / 60000)]);
      if (drawn !== timelineFor) {
        timelineFor = drawn;
        el.timeline.replaceChildren(timeline(study, [...rounds.data].reverse(), versions));
      }
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
