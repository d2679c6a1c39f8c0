"""How the ``caviar`` command draws studies, trials and datasets: rich tables, and a progress
bar that follows a study until it finishes.

A table narrower than its content gives way in its text columns (names, objectives,
hyperparameter headers wrap or fold); numbers, states and counts are never cut: a value read
as ``2.89503e-…`` is a wrong value (see ``keep_whole``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.cells import cell_len
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from caviar.cli_common import call, console, fmt, params_text
from caviar.client import Client
from caviar.schemas import DatasetPublic, StudyPublic, TrialPublic
from caviar.states import FINISHED_STATES

POLL_SECONDS = 1.0


def finished(s: StudyPublic) -> int:
    return sum(s.counts.get(state, 0) for state in FINISHED_STATES)


def best_text(s: StudyPublic) -> str:
    if not s.best:
        return "—"
    return f"{fmt(s.best.value)} (trial {s.best.number}: {params_text(s.best.params)})"


def keep_whole(t: Table, *names: str) -> Table:
    """Never wrap or cut the columns ``names`` (numbers, states, counts): each keeps the width
    of its widest cell, header included, so a narrow terminal makes the other columns give
    way instead."""
    for column in t.columns:
        if column.header in names:
            cells = [str(column.header), *(str(c) for c in column.cells)]
            column.no_wrap = True
            column.min_width = max(cell_len(c) for c in cells)
    return t


def studies_table(studies: Iterable[StudyPublic]) -> Table:
    t = Table(title="Studies", title_justify="left")
    for name, kw in [
        ("id", {"justify": "right"}),
        ("name", {"overflow": "fold"}),
        ("objective", {}),
        ("direction", {}),
        ("status", {}),
        ("finished", {"justify": "right"}),
        ("best", {"justify": "right"}),
    ]:
        t.add_column(name, **kw)  # type: ignore[arg-type]
    for s in studies:
        t.add_row(
            str(s.id),
            s.name,
            objective_text(s),
            s.config.direction,
            s.status,
            f"{finished(s)}/{s.config.max_trials}",
            fmt(s.best.value) if s.best else "—",
        )
    return keep_whole(t, "id", "direction", "status", "finished", "best")


def objective_text(s: StudyPublic) -> str:
    o = s.config.objective
    if o.kind == "function":
        return f"function {o.name}"
    if o.kind == "train":
        return f"train {o.dataset} ({o.metric})"
    return "external"


def study_table(s: StudyPublic) -> Table:
    t = Table(title=f"Study {s.id}: {s.name}", title_justify="left", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    c = s.counts
    rows = [
        ("status", s.status),
        ("objective", f"{objective_text(s)} · {s.config.direction}"),
        ("strategy", s.config.strategy.name),
        ("pruner", s.config.pruner.name),
        ("progress", f"{finished(s)}/{s.config.max_trials} finished"),
        ("trials", ", ".join(f"{c.get(k, 0)} {k}" for k in c)),
        ("stage", str(s.stage)),
        ("best", best_text(s)),
        ("created", s.created_at.strftime("%Y-%m-%d %H:%M:%S")),
    ]
    for k, v in rows:
        t.add_row(k, v)
    return t


def trials_table(
    trials: Iterable[TrialPublic], names: list[str], width: int | None = None
) -> Table:
    """The trials with their hyperparameters ``names``, every value whole. When the table is
    wider than ``width`` (the terminal's), the hyperparameters' names fold first; when the
    values still do not fit, the last hyperparameters are left out and the caption names them."""
    trials = list(trials)
    width = width or console.width
    shown = list(names)
    while True:
        t = _trials_table(trials, shown)
        left_out = names[len(shown) :]
        if left_out:
            t.caption = f"not shown for want of width: {', '.join(left_out)}"
            t.caption_justify = "left"
        if not shown or _fit(t, width, first_foldable=4):
            return t
        shown.pop()


def _fit(t: Table, width: int, first_foldable: int) -> bool:
    """Give each column its widest cell; if the table is then too wide, narrow the headers of
    the columns from ``first_foldable`` on (they fold), never below their widest value.
    False when even that is too wide."""
    overhead = 3 * len(t.columns) + 1  # a border and a space either side of each column
    values = [max([1, *(cell_len(str(c)) for c in col.cells)]) for col in t.columns]
    natural = [max(v, cell_len(str(col.header))) for v, col in zip(values, t.columns, strict=True)]
    if sum(natural) + overhead <= width:
        return True
    need = natural[:first_foldable] + values[first_foldable:]
    spare = width - overhead - sum(need)
    if spare < 0:
        return False
    for i, col in enumerate(t.columns):
        if i >= first_foldable:  # share what is left among the folded headers, left first
            extra = min(spare, natural[i] - need[i])
            need[i] += extra
            spare -= extra
        col.width = need[i]
    return True


def _trials_table(trials: list[TrialPublic], names: list[str]) -> Table:
    t = Table(title="Trials", title_justify="left")
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("state", no_wrap=True)
    t.add_column("stage", justify="right", no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    for n in names:
        t.add_column(n, justify="right", overflow="fold")
    for x in trials:
        t.add_row(
            str(x.number),
            x.state,
            str(x.stage),
            fmt(x.value),
            *(fmt(x.params.get(n), 4) for n in names),
        )
    return t


def datasets_table(datasets: Iterable[DatasetPublic]) -> Table:
    t = Table(title="Datasets", title_justify="left")
    for name, justify in [
        ("ref", "left"),
        ("rows", "right"),
        ("features", "right"),
        ("classes", "left"),
        ("size", "right"),
        ("uploaded", "left"),
    ]:
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for d in datasets:
        t.add_row(
            d.ref,
            str(d.n_rows),
            str(d.n_features),
            ", ".join(d.classes),
            f"{d.size:,} B",
            d.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return keep_whole(t, "rows", "features", "size")


def dataset_table(d: DatasetPublic) -> Table:
    t = Table(title=f"Dataset {d.ref}", title_justify="left", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    for k, v in [
        ("id", str(d.id)),
        ("name", d.name),
        ("version", str(d.version)),
        ("rows", str(d.n_rows)),
        ("features", str(d.n_features)),
        ("classes", ", ".join(d.classes)),
        ("size", f"{d.size:,} bytes"),
        ("sha256", d.sha256),
        ("uploaded", d.created_at.strftime("%Y-%m-%d %H:%M:%S")),
    ]:
        t.add_row(k, v)
    return t


def watch(client: Client, study_id: int) -> StudyPublic:
    """A progress bar of finished trials with the best value so far, until the study is no
    longer running; then the study's table. Returns the last view of the study."""
    s: StudyPublic = call(client.study, study_id)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("trials · best {task.fields[best]} · {task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"study {s.id}", total=s.config.max_trials, best="—", status=s.status)
        while True:
            best = fmt(s.best.value) if s.best else "—"
            bar.update(task, completed=finished(s), best=best, status=s.status)
            if s.status != "running":
                break
            time.sleep(POLL_SECONDS)
            s = call(client.study, study_id)
    console.print(study_table(s))
    return s
