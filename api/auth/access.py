"""Who may call a route, declared on the route as a FastAPI ``Security`` dependency::

    @router.post("/{trial_id}/tell", dependencies=[WORKERS], ...)

``ADMINS`` (anything that changes a study, a dataset or a token's world), ``READERS`` (admin and
viewer: reads), ``WORKERS`` (admin and worker: a worker's calls on the trials it runs, and
``ask`` on an external study, since an external trainer is a worker), ``WORKER_READERS``
(admin, viewer and worker: the trials, checkpoints and datasets a worker reads) and ``PUBLIC``
(probes: ``/api/health``). Every route under ``/api`` and ``/metrics`` declares exactly one of
them; :func:`check_declared` refuses to build an app where one does not.

Whether a call needs a token is decided by the request, never by the listening socket:

- No token was ever stored (see ``TokenCache``): the api answers without a token only to a
  request from this machine (its peer is a loopback address, after the trusted proxies'
  ``X-Forwarded-For``) under a loopback ``Host`` (127.0.0.1, localhost or [::1] with the api's
  port). A name in ``CAVIAR_ALLOWED_HOSTS`` is not a loopback Host: such a request needs a token.
- Otherwise ``Authorization: Bearer <token>`` of an allowed role: 401 without a token or with an
  unknown or revoked one, 403 for a role that may not call the route.
"""

from __future__ import annotations

import logging
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from api.auth.loopback import allowed_host_headers, is_loopback
from api.auth.token_store import TokenCache
from api.route_templates import api_routes, template_of

log = logging.getLogger("caviar.auth")
bearer = HTTPBearer(
    auto_error=False,
    description="An api token (`caviar token create --role ...`); a loopback api that never "
    "had a token answers this machine without one.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _cache(request: Request) -> TokenCache:
    state = request.app.state
    cache = getattr(state, "token_cache", None)
    if cache is None or cache.db is not state.db:
        cache = state.token_cache = TokenCache(
            state.db, local_token=state.settings.local_worker_token
        )
    return cache


def from_this_machine(request: Request) -> bool:
    """The peer is a loopback address and the Host one of the loopback names with this port."""
    client = request.scope.get("client") or ("", 0)
    server = request.scope.get("server") or ("", 0)
    host = request.headers.get("host", "").lower()
    return is_loopback(str(client[0])) and host in allowed_host_headers(int(server[1] or 0))


def _refuse(request: Request, status: int, detail: str) -> HTTPException:
    client = (request.scope.get("client") or ("?",))[0]
    log.info("%s %s %s from %s: %s", status, request.method, request.url.path, client, detail)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, detail, headers=headers)


async def authorize(
    request: Request, security_scopes: SecurityScopes, credentials: Credentials
) -> str | None:
    """The caller's role (None: a tokenless call from this machine), or 401/403."""
    cache = _cache(request)
    if cache.stale:
        await anyio.to_thread.run_sync(cache.refresh)
    token = credentials.credentials.strip() if credentials else ""
    if not cache.closed and from_this_machine(request):
        return cache.role_of(token) if token else None
    if not token:
        if not cache.closed:
            detail = (
                "this api has no token, so it answers without one only to this machine "
                "(127.0.0.1, localhost or [::1]); create one with `caviar token create "
                "--role admin` and send 'Authorization: Bearer <token>'"
            )
        else:
            detail = "a token is required: send 'Authorization: Bearer <token>'"
        raise _refuse(request, 401, detail)
    role = cache.role_of(token)
    if role is None:
        raise _refuse(request, 401, "the token is unknown or revoked")
    if role not in security_scopes.scopes:
        template = template_of(request.scope) or request.url.path
        need = " or ".join(sorted(security_scopes.scopes))
        detail = f"a {role} token may not {request.method} {template}: it needs {need}"
        raise _refuse(request, 403, detail)
    return role


async def public() -> None:
    """A route anyone may call (a probe)."""


ADMINS = Security(authorize, scopes=["admin"])
READERS = Security(authorize, scopes=["admin", "viewer"])
WORKERS = Security(authorize, scopes=["admin", "worker"])
WORKER_READERS = Security(authorize, scopes=["admin", "viewer", "worker"])
PUBLIC = Depends(public)


def roles_of(route: APIRoute) -> frozenset[str] | None:
    """The roles a route allows; None if it needs no token (public, or not under /api)."""
    for dependant in route.dependant.dependencies:
        if dependant.call is authorize:
            return frozenset(dependant.own_oauth_scopes or ())
    return None


def declares_access(route: APIRoute) -> bool:
    return any(d.call in (authorize, public) for d in route.dependant.dependencies)


GUARDED_PREFIXES = ("/api/", "/api", "/metrics")


def check_declared(app: FastAPI) -> None:
    """Refuse an app where a route under /api or /metrics does not say who may call it."""
    missing = []
    for route, context in api_routes(app):
        if str(context.path_format).startswith(GUARDED_PREFIXES) and not declares_access(route):
            missing.append(f"{sorted(context.methods or ())} {context.path_format}")
    if missing:
        raise RuntimeError(
            "these routes do not declare who may call them (dependencies=[READERS], "
            f"ADMINS, WORKERS, WORKER_READERS or PUBLIC from api.auth.access): {missing}"
        )
