"""The ``caviar`` command: run the service (``up``, ``api``, ``worker``, ``flower``), and talk
to a running api (``study ...``, ``dataset ...``).

Adding a command group: write it in its own module (``caviar/cli_<topic>.py``) as a
``click.Group``, decorate the group (and any command that talks to the api) with
``caviar.cli_common.api_option`` / ``pass_client`` so that ``--api URL`` works at every level
(``main`` carries it too, so ``caviar --api URL topic ...`` works as well),
draw with ``caviar.cli_common.console`` (rich), then register it below with one line::

    main.add_command(cli_topic.topic)

A command for an existing group goes the same way: ``study.add_command(cli_topic.command)``.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from caviar import cli_retest
from caviar.cli_common import api_option, api_url
from caviar.cli_dataset import dataset
from caviar.cli_flower import flower
from caviar.cli_study import study
from caviar.cli_token import token
from caviar.cli_trial import trial
from caviar.processes import (
    port_problem,
    spawn,
    stop,
    wait_file,
    wait_healthy,
    worker_problem,
)
from caviar.settings import Settings


@click.group()
@click.version_option(package_name="caviar")
@api_option
def main() -> None:
    """Caviar: distributed hyperparameter tuning.

    --api and --token may come before the subcommand (caviar --api URL study list), after
    its group (caviar study --api URL list) or at its end (caviar study list --api URL)."""


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
    """Run the api and local workers on this machine. Ctrl-C stops them all.

    The addresses are the last lines of the start-up, once the api answers and the workers
    are ready. If the api cannot listen or refuses to start, or a process stops on its own,
    this says why and exits non-zero (with the api's code when it was the api).

    The workers get a worker token of their own, made here at start and handed to the api
    (CAVIAR_LOCAL_WORKER_TOKEN) and to them (CAVIAR_TOKEN): the api accepts it as a
    worker's without storing it, so a token created while the service runs (which closes the
    api to calls without a token) never strands these workers, and the token itself never
    closes a tokenless api. It dies with this command."""
    env = dict(os.environ)
    if data_dir is not None:
        env["CAVIAR_DATA_DIR"] = str(data_dir)
    settings = Settings(_env_file=None, **({"data_dir": data_dir} if data_dir else {}))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    env["CAVIAR_API_URL"] = url
    problem = port_problem(host, port)
    if problem is not None:
        click.echo(f"error: the api cannot listen on {host}:{port}: {problem}", err=True)
        sys.exit(1)
    local_token = "cvr_" + secrets.token_urlsafe(32)
    api_env = {**env, "CAVIAR_LOCAL_WORKER_TOKEN": local_token}
    worker_env = {**env, "CAVIAR_TOKEN": local_token}
    procs = []
    code = 0

    def _quit(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _quit)
    try:
        with tempfile.TemporaryDirectory(prefix="caviar-up-") as tmp:
            api = spawn(
                "api", ["--host", host, "--port", str(port), "--log-level", "warning"], api_env
            )
            procs.append(api)
            wait_healthy(url, api)
            if workers:
                ready = Path(tmp) / "worker-ready"
                args = ["--concurrency", str(workers), "--loglevel", "WARNING", "--quiet"]
                worker = spawn("worker", [*args, "--ready-file", str(ready)], worker_env)
                procs.append(worker)
                wait_file(ready, worker)
            click.echo(f"database {settings.resolved_database_url}; {workers} worker process(es)")
            click.echo("Caviar is up (Ctrl-C stops it):")
            click.echo(f"  dashboard  {url}/")
            click.echo(f"  api        {url}/api")
            click.echo(f"  docs       {url}/docs")
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
            dead = next(p for p in procs if p.poll() is not None)
            name = "api" if dead is procs[0] else "worker"
            click.echo(f"error: the {name} exited with code {dead.returncode}; stopping", err=True)
            code = dead.returncode or 1
    except KeyboardInterrupt:
        click.echo("stopping…")
    except RuntimeError as exc:
        click.echo(f"error: {exc}", err=True)
        failed = next((p for p in procs if p.poll() is not None), None)
        code = (failed.returncode if failed is not None else 0) or 1
    finally:
        stop(procs)
        if procs:
            click.echo("stopped.")
    if code:
        sys.exit(code if code > 0 else 1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--migrate/--no-migrate",
    default=True,
    show_default=True,
    help="upgrade the database first (--no-migrate where a migrate job ran before)",
)
def api(host: str, port: int, migrate: bool) -> None:
    """Run the api (migrates the database first, unless --no-migrate). Exits non-zero, saying
    why, when it cannot listen or refuses to start."""
    problem = port_problem(host, port)
    if problem is not None:
        click.echo(f"error: the api cannot listen on {host}:{port}: {problem}", err=True)
        sys.exit(1)
    args = [sys.executable, "-m", "api", "--host", host, "--port", str(port)]
    os.execv(sys.executable, [*args, *([] if migrate else ["--no-migrate"])])


@main.command()
def migrate() -> None:
    """Upgrade the database to the newest schema, then exit (a deployment's migrate job)."""
    os.execv(sys.executable, [sys.executable, "-m", "api", "--migrate-only"])


@main.command()
@click.option("--api", "url", default=None, metavar="URL", help="the api's URL")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 256))
def worker(url: str | None, concurrency: int) -> None:
    """Run a Celery worker that trains trials and talks to the api over REST (it needs the
    broker's URL and the api's URL, no database). Exits non-zero, saying why, when either URL
    cannot work; a broker that is only down is waited for (it may come up later)."""
    api = url or api_url(click.get_current_context())
    problem = worker_problem(api, Settings().resolved_broker_url)
    if problem is not None:
        click.echo(f"error: the worker cannot start: {problem}", err=True)
        sys.exit(2)
    args = [sys.executable, "-m", "worker", "--concurrency", str(concurrency)]
    os.execv(sys.executable, [*args, "--api", api])


main.add_command(study)
main.add_command(dataset)
main.add_command(token)
cli_retest.register(study)
main.add_command(trial)
main.add_command(flower)


if __name__ == "__main__":
    main()
