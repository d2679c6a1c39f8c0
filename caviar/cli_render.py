"""How the ``caviar`` command draws studies, trials and datasets: rich tables, and a progress
bar that follows a study until it finishes."""

from __future__ import annotations

import time
from collections.abc import Iterable

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


def studies_table(studies: Iterable[StudyPublic]) -> Table:
    t = Table(title="Studies", title_justify="left")
    for name, kw in [
        ("id", {"justify": "right"}),
        ("name", {}),
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
    return t


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


def trials_table(trials: Iterable[TrialPublic], names: list[str]) -> Table:
    t = Table(title="Trials", title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("state")
    t.add_column("stage", justify="right")
    t.add_column("value", justify="right")
    for n in names:
        t.add_column(n, justify="right")
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
    return t


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
