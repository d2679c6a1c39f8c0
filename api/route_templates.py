"""The path template (``/api/trials/{trial_id}``) of the route that answered a request.

FastAPI's router leaves the route it matched in the request's scope (``scope["route"]``), as
its own router declared it: without the prefixes it was included under (``/api``). This maps
it to the full template that the OpenAPI document shows, from FastAPI's own list of the app's
routes (``iter_route_contexts``), built once per app.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.types import Scope


def api_routes(app: FastAPI) -> Iterator[tuple[APIRoute, RouteContext]]:
    """Every API route with its effective context (full ``path_format``, ``methods``)."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context.original_route, context


def template_of(scope: Scope) -> str | None:
    """The full template of the API route in ``scope`` (None before routing, or for the
    dashboard's files and unknown paths)."""
    route, app = scope.get("route"), scope.get("app")
    if not isinstance(route, APIRoute) or app is None:
        return None
    index: dict[int, str] | None = getattr(app.state, "route_templates", None)
    if index is None:
        index = {id(r): str(c.path_format) for r, c in api_routes(app)}
        app.state.route_templates = index
    return index.get(id(route), route.path_format)
