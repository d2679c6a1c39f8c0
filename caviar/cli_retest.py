"""``caviar study schedule|retest|retests``: a study's re-test schedule and rounds."""

from __future__ import annotations

from typing import Any

import click

from caviar.cli_common import call as _call
from caviar.cli_common import pass_client
from caviar.client import Client
from caviar.retest_schemas import RoundPublic, RoundResult
from caviar.schemas import StudyPublic


def schedule_line(s: StudyPublic) -> str:
    if s.retest is None:
        return f"study {s.id}: no re-test schedule"
    r = s.retest
    when = f"every {r.every}" if r.every else "no time schedule"
    data = ", on new data" if r.on_new_data else ""
    nxt = f"; next {s.next_retest_at:%Y-%m-%d %H:%M:%S} UTC" if s.next_retest_at else ""
    stale = f"; STALE: {s.stale_reason}" if s.stale else ""
    return (
        f"study {s.id}: re-test {when}{data}, top {r.top_k} × {r.repeats} repeats, "
        f"{r.explore} challengers{nxt}{stale}"
    )


def _result_line(i: int, r: RoundResult, champion: RoundResult | None) -> str:
    params = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(r.params.items())
    )
    score = f"{r.mean:.6g} ± {r.se or 0:.2g} (n={r.n})" if r.mean is not None else "no result"
    mark = " ← champion after the round" if champion and champion.trial_ids == r.trial_ids else ""
    who = "champion" if i == 0 else f"#{i} {r.origin}"
    return f"    {who:<12} {score:<28} {params}{mark}"


def round_lines(r: RoundPublic) -> list[str]:
    data = f" on {r.dataset}" if r.dataset else ""
    verdict = f": {r.verdict} — {r.reason}" if r.verdict else (f": {r.reason}" if r.reason else "")
    head = (
        f"round {r.number} ({r.trigger}{data}, {r.created_at:%Y-%m-%d %H:%M:%S}) {r.state}{verdict}"
    )
    return [head, *(_result_line(i, x, r.champion) for i, x in enumerate(r.results))]


@click.command("schedule")
@click.argument("study_id", type=int)
@click.option("--every", default=None, help='a duration: "45s", "6h", "7d"')
@click.option(
    "--on-new-data/--no-on-new-data", default=None, help="re-test on a new dataset version"
)
@click.option("--top-k", type=int, default=None, help="configurations re-tested (champion first)")
@click.option("--repeats", type=int, default=None, help="runs of each, with fresh seeds")
@click.option("--explore", type=int, default=None, help="fresh challengers per round")
@click.option("--off", is_flag=True, help="remove the schedule")
@pass_client
def schedule(
    client: Client,
    study_id: int,
    every: str | None,
    on_new_data: bool | None,
    top_k: int | None,
    repeats: int | None,
    explore: int | None,
    off: bool,
) -> None:
    """Set or change STUDY_ID's re-test schedule (options not given stay as they are)."""
    if off:
        click.echo(schedule_line(_call(client.update_study, study_id, retest=None)))
        return
    current = _call(client.study, study_id).retest
    retest: dict[str, Any] = current.model_dump() if current else {}
    given = {
        "every": every,
        "on_new_data": on_new_data,
        "top_k": top_k,
        "repeats": repeats,
        "explore": explore,
    }
    retest.update({k: v for k, v in given.items() if v is not None})
    click.echo(schedule_line(_call(client.update_study, study_id, retest=retest)))


@click.command("retest")
@click.argument("study_id", type=int)
@pass_client
def retest_now(client: Client, study_id: int) -> None:
    """Start a re-test round of STUDY_ID now."""
    r = _call(client.start_retest, study_id)
    click.echo("\n".join(round_lines(r)))


@click.command("retests")
@click.argument("study_id", type=int)
@pass_client
def retests(client: Client, study_id: int) -> None:
    """The schedule and the rounds of STUDY_ID, newest first, with their verdicts."""
    click.echo(schedule_line(_call(client.study, study_id)))
    for r in _call(client.retests, study_id).data:
        click.echo("\n".join(round_lines(r)))


def register(group: click.Group) -> None:
    """Add the re-test commands to the ``caviar study`` group."""
    for command in (schedule, retest_now, retests):
        group.add_command(command)
