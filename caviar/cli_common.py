"""What every ``caviar`` command group shares: the ``--api`` option, the client it opens, the
console that draws tables and progress bars, and error handling.

- ``@api_option`` adds ``--api URL`` to a group or a command. Given at any level (``caviar
  --api URL study create f.yaml``, ``caviar study --api URL create f.yaml`` or ``caviar study
  create f.yaml --api URL``) it wins over ``CAVIAR_API_URL``, which wins over the default
  ``http://127.0.0.1:8000``.
- ``@api_option`` adds ``--token T`` beside it, at the same levels; without it the client
  sends ``CAVIAR_TOKEN`` (when set).
- ``@pass_client`` (implies ``@api_option``) hands the command a ``Client`` for that URL,
  closed when the command ends.
- ``call(fn, *args)`` turns the api's errors into one readable line and a refused connection
  into a message naming the URL tried and how to point elsewhere.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
import httpx
from rich.console import Console

from caviar.client import CaviarError, Client
from caviar.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
_URL_KEY = "caviar.api_url"
_TOKEN_KEY = "caviar.token"
console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)


def _remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_URL_KEY] = value.rstrip("/")


def _remember_token(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_TOKEN_KEY] = value


def api_option(fn: F) -> F:
    """``--api URL`` and ``--token T`` on this group or command (see the module's docstring)."""
    fn = click.option(
        "--token",
        default=None,
        metavar="T",
        expose_value=False,
        is_eager=True,
        callback=_remember_token,
        help="an api token [default: CAVIAR_TOKEN]",
    )(fn)
    return click.option(
        "--api",
        "api_url",
        default=None,
        metavar="URL",
        expose_value=False,
        is_eager=True,
        callback=_remember,
        help="the api's URL [default: CAVIAR_API_URL, else http://127.0.0.1:8000]",
    )(fn)


def api_url(ctx: click.Context | None = None) -> str:
    ctx = ctx or click.get_current_context()
    return ctx.meta.get(_URL_KEY) or os.environ.get("CAVIAR_API_URL") or Settings().api_url


def pass_client(fn: F) -> F:
    """Adds ``--api`` and passes a ``Client`` (first argument) opened on the chosen URL."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        client = Client(api_url(ctx), token=ctx.meta.get(_TOKEN_KEY))
        ctx.call_on_close(client.close)
        return fn(client, *args, **kwargs)

    return api_option(wrapper)  # type: ignore[return-value]


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the api; its errors and unreachable servers become a ``ClickException``."""
    try:
        return fn(*args, **kwargs)
    except CaviarError as exc:
        raise click.ClickException(str(exc)) from exc
    except httpx.TransportError as exc:
        url = api_url()
        raise click.ClickException(
            f"could not reach the Caviar api at {url} ({type(exc).__name__}: {exc}).\n"
            "Start one with `caviar up`, or point elsewhere with --api URL or the "
            "CAVIAR_API_URL environment variable."
        ) from exc


def fmt(x: Any, digits: int = 6) -> str:
    """A number as a person reads it: ints as they are, floats to ``digits`` significant
    digits (exponent form when tiny or huge); anything else as text."""
    if x is None:
        return "—"
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


def params_text(params: dict[str, Any], digits: int = 4) -> str:
    return ", ".join(f"{k}={fmt(v, digits)}" for k, v in params.items())
