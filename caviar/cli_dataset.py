"""``caviar dataset ...``: upload a CSV as a new dataset version, list and show datasets."""

from __future__ import annotations

from pathlib import Path

import click

from caviar import cli_render as render
from caviar.cli_common import api_option, call, console, pass_client
from caviar.client import Client


@click.group()
@api_option
def dataset() -> None:
    """Upload, list and show datasets (CSV: features, then a label column)."""


@dataset.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="the dataset's name; a new upload is a new version")
@pass_client
def dataset_upload(client: Client, file: Path, name: str) -> None:
    """Upload FILE (CSV) as the next version of dataset NAME."""
    d = call(client.upload_dataset, name, file.read_bytes())
    console.print(f"uploaded {d.ref}: use dataset: {d.ref} in a train study")
    console.print(render.dataset_table(d))


@dataset.command("list")
@pass_client
def dataset_list(client: Client) -> None:
    """Every dataset version, newest first."""
    console.print(render.datasets_table(call(client.datasets).data))


@dataset.command("show")
@click.argument("ref")
@pass_client
def dataset_show(client: Client, ref: str) -> None:
    """One dataset: REF is "name" (its latest version) or "name@version"."""
    console.print(render.dataset_table(call(client.dataset, ref)))
