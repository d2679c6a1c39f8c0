"""``caviar trial ...``: babysit one trial from the terminal (panda mode).

``show`` and ``watch`` (a live curve), ``set`` live hyperparameters, ``pause``, ``resume``,
``stop``, and ``fork`` with edited hyperparameters.
"""

from __future__ import annotations

import getpass
import json
import math
import time
from collections.abc import Sequence
from typing import Any

import click

from caviar.cli_common import api_option, call, pass_client
from caviar.client import Client
from caviar.schemas import CommandPublic, ReportPublic, TrialPublic
from caviar.states import FINISHED_STATES


@click.group()
@api_option
def trial() -> None:
    """Watch and steer one trial while it trains."""


def parse_assignments(pairs: Sequence[str]) -> dict[str, Any]:
    """``["learning_rate=3e-4", "lr_decay_kind=step"]`` → ``{"learning_rate": 0.0003, ...}``:
    JSON values where they parse (numbers, true, null), strings otherwise."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not name=value", param_hint="PARAMS")
        try:
            params[name] = json.loads(raw)
        except json.JSONDecodeError:
            params[name] = raw
    return params


def _trial_line(t: TrialPublic) -> str:
    lineage = f", forked from trial {t.parent_id} at step {t.forked_at_step}" if t.parent_id else ""
    value = "no value yet" if t.value is None else f"value {t.value:.6g}"
    steered = ", steered by a person (the search does not learn from it)" if t.steered else ""
    stopped = (
        f", stopped by a person at step {t.stopped_at_step} (a partial run)"
        if t.stopped_at_step is not None
        else ""
    )
    note = f"\n  note {t.note}" if t.note else ""
    return (
        f"trial {t.id} (#{t.number} of study {t.study_id}): {t.state}, attempt {t.attempt}, "
        f"{value}{lineage}{steered}{stopped}\n  params {json.dumps(t.params)}{note}"
    )


def _command_line(c: CommandPublic) -> str:
    at = f" at step {c.applied_step}" if c.applied_step is not None else ""
    what = f"{c.action} {json.dumps(c.params)}" if c.params else c.action
    who = f" by {c.author}" if c.author else ""
    note = f" — {c.note}" if c.note else ""
    reason = f" ({c.reason})" if c.reason else ""
    return f"  #{c.id} {what}{who}: {c.state}{at}{reason}{note}"


def ascii_curve(values: Sequence[float], width: int = 64, height: int = 10) -> list[str]:
    """A terminal plot of ``values`` (downsampled to ``width`` columns), max at the top."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ["(no reports yet)"]
    if len(values) > width:  # keep each column's last value
        values = [
            values[min(len(values) - 1, (i + 1) * len(values) // width - 1)] for i in range(width)
        ]
    lo, hi = min(finite), max(finite)
    span = hi - lo or 1.0
    rows = [[" "] * len(values) for _ in range(height)]
    for x, v in enumerate(values):
        if math.isfinite(v):
            y = round((v - lo) / span * (height - 1))
            rows[height - 1 - y][x] = "•"
    labels = [f"{hi:>10.4g} ┤", *[" " * 10 + " │"] * (height - 2), f"{lo:>10.4g} ┤"]
    return [label + "".join(row) for label, row in zip(labels, rows, strict=True)]


def _render(
    t: TrialPublic, reports: Sequence[ReportPublic], commands: Sequence[CommandPublic]
) -> str:
    lines = [_trial_line(t)]
    if reports:
        last = reports[-1]
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(last.metrics.items()))
        lines.append(f"  step {last.step}: value {last.value:.6g}; {metrics}")
        lines.append("  value by step:")
        lines += ["  " + row for row in ascii_curve([r.value for r in reports])]
        rates = [r.metrics.get("learning_rate", math.nan) for r in reports]
        if any(math.isfinite(r) for r in rates):
            lines.append("  learning rate by step:")
            lines += ["  " + row for row in ascii_curve(rates, height=4)]
    if commands:
        lines.append("  commands:")
        lines += [_command_line(c) for c in commands]
    return "\n".join(lines)


@trial.command("show")
@click.argument("trial_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print the trial as JSON")
@pass_client
def trial_show(client: Client, trial_id: int, as_json: bool) -> None:
    """Show a trial: state, lineage, its curve so far, its commands."""
    t = call(client.trial, trial_id)
    if as_json:
        click.echo(t.model_dump_json(indent=2))
        return
    click.echo(
        _render(t, call(client.reports, trial_id).data, call(client.commands, trial_id).data)
    )


@trial.command("watch")
@click.argument("trial_id", type=int)
@click.option("--interval", default=1.0, show_default=True, help="seconds between refreshes")
@pass_client
def trial_watch(client: Client, trial_id: int, interval: float) -> None:
    """Show the live curve until the trial finishes or pauses (Ctrl-C stops watching)."""
    while True:
        t = call(client.trial, trial_id)
        screen = _render(
            t, call(client.reports, trial_id).data, call(client.commands, trial_id).data
        )
        click.clear()
        click.echo(screen)
        if t.state in FINISHED_STATES or t.state == "paused":
            return
        time.sleep(interval)


def _command(
    client: Client, trial_id: int, action: str, params: dict[str, Any], note: str | None
) -> None:
    c = call(client.command, trial_id, action, params, note=note, author=getpass.getuser())
    click.echo(_command_line(c).strip())


note_option = click.option("--note", default=None, help="why: shown on the curves and in the log")


@trial.command("set")
@click.argument("trial_id", type=int)
@click.argument("params", nargs=-1, required=True)
@note_option
@pass_client
def trial_set(client: Client, trial_id: int, params: tuple[str, ...], note: str | None) -> None:
    """Change a training trial's hyperparameters while it runs.

    PARAMS are NAME=VALUE pairs of the hyperparameters that can change live: learning_rate,
    beta, beta1, beta2, l2, batch_size, lr_decay, lr_decay_kind. The trainer applies them
    before its next mini-batch. For example:

    \b
        caviar trial set 42 learning_rate=3e-4 --note plateau
    """
    _command(client, trial_id, "set", parse_assignments(params), note)


@trial.command("pause")
@click.argument("trial_id", type=int)
@note_option
@pass_client
def trial_pause(client: Client, trial_id: int, note: str | None) -> None:
    """Pause: the trial checkpoints and frees its worker."""
    _command(client, trial_id, "pause", {}, note)


@trial.command("resume")
@click.argument("trial_id", type=int)
@note_option
@pass_client
def trial_resume(client: Client, trial_id: int, note: str | None) -> None:
    """Resume a paused trial on any worker, from its checkpoint."""
    _command(client, trial_id, "resume", {}, note)


@trial.command("stop")
@click.argument("trial_id", type=int)
@note_option
@pass_client
def trial_stop(client: Client, trial_id: int, note: str | None) -> None:
    """Finish now: the trial completes with its latest value."""
    _command(client, trial_id, "stop", {}, note)


@trial.command("fork")
@click.argument("trial_id", type=int)
@click.argument("params", nargs=-1)
@click.option("--step", type=int, default=None, help="fork from the checkpoint at or before it")
@click.option("--note", default=None, help="why: kept with the fork and shown on its page")
@pass_client
def trial_fork(
    client: Client, trial_id: int, params: tuple[str, ...], step: int | None, note: str | None
) -> None:
    """Start a new trial from this one's checkpoint with edited live hyperparameters."""
    child = call(client.fork, trial_id, parse_assignments(params), step, note)
    click.echo(_trial_line(child))
