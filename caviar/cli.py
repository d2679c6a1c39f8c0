"""The ``caviar`` command: run the service, submit and watch studies."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml

from caviar import cli_retest
from caviar.client import CaviarError, Client
from caviar.processes import spawn, stop, wait_healthy
from caviar.schemas import StudyPublic
from caviar.settings import Settings


@click.group()
@click.version_option(package_name="caviar")
def main() -> None:
    """Caviar: distributed hyperparameter tuning."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(0, 256),
    help="local Celery worker processes",
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="where the SQLite database and broker live [default: ./caviar-data]",
)
def up(host: str, port: int, workers: int, data_dir: Path | None) -> None:
    """Run the api and local workers on this machine. Ctrl-C stops them all."""
    env = dict(os.environ)
    if data_dir is not None:
        env["CAVIAR_DATA_DIR"] = str(data_dir)
    settings = Settings(_env_file=None, **({"data_dir": data_dir} if data_dir else {}))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    env["CAVIAR_API_URL"] = url
    procs = []

    def _quit(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _quit)
    try:
        api = spawn("api", ["--host", host, "--port", str(port), "--log-level", "warning"], env)
        procs.append(api)
        wait_healthy(url, api)
        if workers:
            procs.append(
                spawn("worker", ["--concurrency", str(workers), "--loglevel", "WARNING"], env)
            )
        click.echo(f"Caviar is up: dashboard {url}/  REST {url}/api  OpenAPI {url}/docs")
        click.echo(f"database {settings.resolved_database_url}; {workers} worker process(es)")
        click.echo("Press Ctrl-C to stop.")
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        dead = next(p for p in procs if p.poll() is not None)
        click.echo(f"a child process exited with code {dead.returncode}; stopping", err=True)
    except KeyboardInterrupt:
        click.echo("stopping…")
    except RuntimeError as exc:
        click.echo(f"error: {exc}", err=True)
    finally:
        stop(procs)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def api(host: str, port: int) -> None:
    """Run the api (migrates the database first)."""
    os.execv(sys.executable, [sys.executable, "-m", "api", "--host", host, "--port", str(port)])


@main.command()
@click.option("--api", "api_url", default=None, help="the api's URL [default: CAVIAR_API_URL]")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 256))
def worker(api_url: str | None, concurrency: int) -> None:
    """Run a Celery worker that trains trials and talks to the api over REST."""
    args = [sys.executable, "-m", "worker", "--concurrency", str(concurrency)]
    if api_url:
        args += ["--api", api_url]
    os.execv(sys.executable, args)


@main.group()
@click.option("--api", "api_url", default=None, help="the api's URL [default: CAVIAR_API_URL]")
@click.pass_context
def study(ctx: click.Context, api_url: str | None) -> None:
    """Create, show, list and cancel studies."""
    ctx.obj = Client(api_url or Settings().api_url)
    ctx.call_on_close(ctx.obj.close)


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


def _summary(s: StudyPublic) -> str:
    c = s.counts
    done = c["completed"] + c["pruned"] + c["failed"] + c["cancelled"]
    best = (
        f"best {s.best.value:.6g} (trial {s.best.number}) {s.best.params}"
        if s.best
        else "no result yet"
    )
    return (
        f"study {s.id} {s.name!r}: {s.status}, stage {s.stage}, {done}/{s.config.max_trials} "
        f"finished, {c['running']} running, {c['queued']} queued; {best}"
    )


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except CaviarError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # connection errors and the like
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


@study.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="show progress until the study finishes")
@click.pass_obj
def study_create(client: Client, file: Path, wait: bool) -> None:
    """Submit the study described by FILE (YAML or JSON)."""
    created = _call(client.create_study, _load(file))
    click.echo(f"created study {created.id}")
    if wait:
        _watch(client, created.id)
    else:
        click.echo(_summary(created))


@study.command("show")
@click.argument("study_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print the study as JSON")
@click.pass_obj
def study_show(client: Client, study_id: int, as_json: bool) -> None:
    """Show a study: status, progress, best trial, current stage."""
    s = _call(client.study, study_id)
    click.echo(s.model_dump_json(indent=2) if as_json else _summary(s))


@study.command("list")
@click.pass_obj
def study_list(client: Client) -> None:
    """List studies, newest first."""
    for s in _call(client.studies).data:
        click.echo(_summary(s))


@study.command("watch")
@click.argument("study_id", type=int)
@click.pass_obj
def study_watch(client: Client, study_id: int) -> None:
    """Show progress until the study finishes."""
    _watch(client, study_id)


@study.command("cancel")
@click.argument("study_id", type=int)
@click.pass_obj
def study_cancel(client: Client, study_id: int) -> None:
    """Cancel a study and its unfinished trials."""
    click.echo(_summary(_call(client.cancel, study_id)))


def _watch(client: Client, study_id: int) -> None:
    last = ""
    while True:
        s = _call(client.study, study_id)
        line = _summary(s)
        if line != last:
            click.echo(line)
            last = line
        if s.status != "running":
            return
        time.sleep(1.0)


cli_retest.register(study)

if __name__ == "__main__":
    main()
