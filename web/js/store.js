// A study's plot data in the browser: a snapshot, then updates past its cursor.
//
// Rows are the finished trials the api sent (every one for small studies, a sample plus every
// trial that finished since for large ones). `pending` are the in-flight trial numbers the next
// poll asks about; `cursor` is the highest trial number seen.

// A page left open on a busy study keeps at most this many rows and curves (then thins them,
// as the api samples a large study: the best tenth and an even spread of the rest).
export const MAX_ROWS = 6000;
export const MAX_CURVES = 400;

export class StudyData {
  constructor(names, direction) {
    this.names = names;
    this.sign = direction === "maximize" ? -1 : 1;
    this.rows = new Map();
    this.curves = new Map();
    this.best = { number: [], value: [] };
    this.pending = [];
    this.cursor = -1;
    this.total = 0;
    this.finished = 0;
    this.sampled = false;
    this.importance = {};
    this.pair = names.slice(0, 2);
    this.version = 0;
  }

  applySnapshot(s) {
    this.cursor = s.cursor;
    this.pending = s.pending;
    this.total = s.total;
    this.finished = s.finished;
    this.sampled = s.sampled;
    this.importance = s.importance;
    this.pair = s.pair;
    this.best = { number: [...s.best.number], value: [...s.best.value] };
    this.addRows(s.trials);
    this.addCurves(s.curves);
    this.version++;
  }

  // Returns true when anything changed.
  applyUpdates(u, unsent = []) {
    const changed = u.trials.number.length > 0 || u.curves.trial.length > 0 || u.cursor !== this.cursor;
    const newlyFinished = u.trials.number.filter((n) => !this.rows.has(n)).length;
    this.total = Math.max(this.total, u.cursor + 1);
    this.finished += newlyFinished;
    this.cursor = u.cursor;
    this.pending = [...u.pending, ...unsent];
    this.addRows(u.trials);
    this.addCurves(u.curves);
    for (let i = 0; i < u.trials.number.length; i++) {
      if (u.trials.state[i] === "completed" && u.trials.value[i] !== null) {
        this.improve(u.trials.number[i], u.trials.value[i]);
      }
    }
    this.thin();
    if (changed) this.version++;
    return changed;
  }

  thin() {
    if (this.rows.size > MAX_ROWS) {
      const rows = [...this.rows.values()].sort((a, b) => a.number - b.number);
      const valued = rows.filter((r) => r.value !== null && r.value !== undefined);
      const best = new Set([...valued].sort((a, b) => this.sign * (a.value - b.value)).slice(0, MAX_ROWS / 20));
      const rest = rows.filter((r) => !best.has(r));
      const keep = MAX_ROWS / 2 - best.size;
      this.rows = new Map();
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        if (best.has(r)) this.rows.set(r.number, r);
      }
      for (let i = 0; i < keep; i++) {
        const r = rest[Math.floor((i * rest.length) / keep)];
        this.rows.set(r.number, r);
      }
      this.sampled = true;
    }
    if (this.curves.size > MAX_CURVES) {
      const records = new Set(this.best.number);
      for (const [n, c] of this.curves) {
        if (this.curves.size <= MAX_CURVES * 0.75) break;
        if (c.state !== "running" && !records.has(n)) this.curves.delete(n);
      }
    }
  }

  addRows(cols) {
    for (let i = 0; i < cols.number.length; i++) {
      const params = {};
      for (const n of this.names) params[n] = cols.params[n][i];
      this.rows.set(cols.number[i], {
        number: cols.number[i],
        id: cols.id[i],
        state: cols.state[i],
        value: cols.value[i],
        stage: cols.stage[i],
        params,
        prune_reason: cols.prune_reason[i],
      });
    }
  }

  addCurves(c) {
    const fresh = new Map();
    for (const t of c.trials) {
      fresh.set(t.number, { ...t, step: [], value: [], metrics: {} });
    }
    const keys = Object.keys(c.metrics);
    for (let i = 0; i < c.trial.length; i++) {
      const curve = fresh.get(c.trial[i]);
      curve.step.push(c.step[i]);
      curve.value.push(c.value[i]);
      for (const k of keys) (curve.metrics[k] ||= []).push(c.metrics[k][i]);
    }
    for (const [n, curve] of fresh) this.curves.set(n, curve);
  }

  // Keep the best-so-far line exact: (number, value) where the best completed value improved.
  improve(number, value) {
    const b = this.best;
    let i = 0;
    while (i < b.number.length && b.number[i] <= number) i++;
    const before = i > 0 ? this.sign * b.value[i - 1] : Infinity;
    if (this.sign * value >= before) return;
    let j = i;
    while (j < b.number.length && this.sign * b.value[j] >= this.sign * value) j++;
    b.number.splice(i, j - i, number);
    b.value.splice(i, j - i, value);
  }

  // Finished trials with a value, as arrays for plotting.
  valued() {
    if (this._valued?.version === this.version) return this._valued;
    const rows = [...this.rows.values()].filter((r) => r.value !== null && r.value !== undefined);
    rows.sort((a, b) => a.number - b.number);
    this._valued = { version: this.version, rows };
    return this._valued;
  }

  bestRow() {
    let best = null;
    for (const r of this.rows.values()) {
      if (r.state !== "completed" || r.value === null) continue;
      if (!best || this.sign * r.value < this.sign * best.value) best = r;
    }
    return best;
  }
}

// [3,4,5,9] → "3-5,9"
export function ranges(numbers) {
  const sorted = [...numbers].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j;
  }
  return out.join(",");
}
