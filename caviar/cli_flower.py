"""``caviar flower``: Celery's Flower on the configured broker, or one line saying why not.

Flower learns of workers and tasks from Celery events, which travel on a Redis or RabbitMQ
broker only: on the embedded SQL broker it would list no worker, so the command refuses it and
names ``CAVIAR_BROKER_URL``. Flower is an extra (``pip install -e '.[flower]'``).
"""

from __future__ import annotations

import importlib.util
import os
import sys

import click

from caviar.settings import Settings

INSTALL = "pip install -e '.[flower]' (Flower 2.2.0)"


def flower_problem(broker: str) -> str | None:
    """Why Flower cannot show the fleet on this broker URL, or None."""
    if broker.startswith("sqla+"):
        return (
            f"Flower cannot see workers on the SQL broker (CAVIAR_BROKER_URL is {broker!r}, "
            "the embedded default when unset): it learns of them from Celery events, which "
            "only a Redis or RabbitMQ broker carries. Run the api and the workers with "
            "CAVIAR_BROKER_URL=redis://HOST:6379/0 and start caviar flower with the same URL; "
            "the dashboard's fleet page (/#/fleet) shows the workers on any broker"
        )
    if importlib.util.find_spec("flower") is None:
        return f"Flower is not installed: {INSTALL}"
    return None


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--address", default="127.0.0.1", show_default=True, help="where Flower listens")
@click.option("--port", default=5555, show_default=True, type=click.IntRange(1, 65535))
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
def flower(address: str, port: int, flower_args: tuple[str, ...]) -> None:
    """Run Flower on the broker of CAVIAR_BROKER_URL (Redis or RabbitMQ), showing the workers
    and their trials as Celery tasks. Other options go to Flower as they are, e.g.
    --basic-auth=user:password: Flower has no login of its own, so add one before it listens
    beyond this machine. Exits 2, saying why, on the embedded SQL broker (where Flower would
    see no worker) or when Flower is not installed."""
    problem = flower_problem(Settings().resolved_broker_url)
    if problem is not None:
        click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    args = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "flower"]
    os.execv(sys.executable, [*args, f"--address={address}", f"--port={port}", *flower_args])
