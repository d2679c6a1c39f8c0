"""``caviar study ...``: create, show, list, watch, trials, rename, delete and cancel studies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from caviar import cli_render as render
from caviar.cli_common import api_option, call, console, pass_client
from caviar.client import Client
from caviar.schemas import StudyPublic


@click.group()
@api_option
def study() -> None:
    """Create, show, list, watch and cancel studies."""


def _load(path: Path) -> dict[str, Any]:
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise click.BadParameter(
            f"{path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path} must hold one study (a mapping)")
    return data


@study.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="show a progress bar until the study finishes")
@pass_client
def study_create(client: Client, file: Path, wait: bool) -> None:
    """Submit the study described by FILE (YAML or JSON)."""
    created = call(client.create_study, _load(file))
    console.print(f"created study {created.id}")
    if wait:
        render.watch(client, created.id)
    else:
        console.print(render.study_table(created))


@study.command("show")
@click.argument("study_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print the study as JSON")
@pass_client
def study_show(client: Client, study_id: int, as_json: bool) -> None:
    """Show a study: status, progress, best trial, current stage."""
    s = call(client.study, study_id)
    if as_json:
        click.echo(s.model_dump_json(indent=2))
        return
    table = render.study_table(s)
    for name, text in [*warm_start_rows(s), *retest_rows(s)]:
        table.add_row(name, text)
    console.print(table)


def warm_start_rows(s: StudyPublic) -> list[tuple[str, str]]:
    """``study show``'s provenance: the study it was warm-started from, and what it kept."""
    w = s.warm_start_report
    if w is None:
        return []
    kept = f"{w.configurations} configuration{'s' if w.configurations != 1 else ''}"
    extra = [f"{w.observations} earlier results guide the strategy"]
    if w.dropped_configurations:
        extra.append(f"{w.dropped_configurations} configurations did not fit this space")
    extra += w.notes
    return [("warm start", f"warm-started from study {w.study_id} ({kept}); " + "; ".join(extra))]


def retest_rows(s: StudyPublic) -> list[tuple[str, str]]:
    """``study show``'s re-test rows: the champion beside ``best``, stale or not, the next
    round."""
    rows: list[tuple[str, str]] = []
    if s.champion is not None:
        rows.append(
            (
                "champion",
                f"{render.fmt(s.champion.value)} (mean of its repeats in the latest judged round; "
                f"{render.params_text(s.champion.params)})",
            )
        )
    if s.stale:
        rows.append(("stale", f"yes: {s.stale_reason}"))
    elif s.retest is not None or s.champion is not None:
        rows.append(("stale", "no" if s.champion is not None else "no (not re-tested yet)"))
    if s.next_retest_at is not None:
        every = f" (every {s.retest.every})" if s.retest is not None and s.retest.every else ""
        nxt = f"{s.next_retest_at:%Y-%m-%d %H:%M:%S} UTC{every}"
    elif s.retest is not None:
        nxt = "on new data" if s.retest.on_new_data else "only by hand (no time schedule)"
    else:
        nxt = "no schedule"
    rows.append(("next re-test", nxt))
    return rows


@study.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@pass_client
def study_list(client: Client, limit: int) -> None:
    """List studies, newest first."""
    page = call(client.studies, 0, limit)
    console.print(render.studies_table(page.data))
    if page.count > len(page.data):
        console.print(f"{len(page.data)} of {page.count} studies (--limit to see more)")


@study.command("trials")
@click.argument("study_id", type=int)
@click.option(
    "--sort",
    type=click.Choice(["number", "value"]),
    default="number",
    show_default=True,
    help="value: best first, in the study's direction",
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@pass_client
def study_trials(client: Client, study_id: int, sort: str, limit: int) -> None:
    """The study's trials as a table: the newest, or the best with --sort value."""
    s = call(client.study, study_id)
    desc = (sort == "number") or s.config.direction == "maximize"
    page = call(client.trials_page, study_id, sort=sort, desc=desc, limit=limit)
    console.print(render.trials_table(page.data, list(s.config.space)))
    console.print(f"{len(page.data)} of {page.count} trials")


@study.command("watch")
@click.argument("study_id", type=int)
@pass_client
def study_watch(client: Client, study_id: int) -> None:
    """Show a progress bar until the study finishes."""
    render.watch(client, study_id)


@study.command("rename")
@click.argument("study_id", type=int)
@click.argument("name")
@pass_client
def study_rename(client: Client, study_id: int, name: str) -> None:
    """Give a study a new name."""
    console.print(render.study_table(call(client.update_study, study_id, name=name)))


@study.command("delete")
@click.argument("study_id", type=int)
@click.option("--yes", is_flag=True, help="do not ask")
@pass_client
def study_delete(client: Client, study_id: int, yes: bool) -> None:
    """Delete a finished (or cancelled) study with its trials and reports."""
    if not yes:
        click.confirm(f"Delete study {study_id} and all its trials?", abort=True)
    call(client.delete_study, study_id)
    console.print(f"deleted study {study_id}")


@study.command("cancel")
@click.argument("study_id", type=int)
@pass_client
def study_cancel(client: Client, study_id: int) -> None:
    """Cancel a study and its unfinished trials."""
    console.print(render.study_table(call(client.cancel, study_id)))
