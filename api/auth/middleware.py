"""One ASGI middleware in front of every route: the Host check, then the token and its role.

- On a loopback address, a request whose Host is not 127.0.0.1, localhost or [::1] with this
  port (or a configured ``CAVIAR_ALLOWED_HOSTS`` name) is refused with 421.
- With no active token, a loopback api is open and any other address refuses everything (the
  api does not start there without a token, but tokens can be revoked while it runs).
- With tokens, every non-public route needs ``Authorization: Bearer <token>`` of a role the
  table in ``api.auth.rules`` allows: 401 without or with a bad token, 403 for the wrong role.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth.loopback import allowed_host_headers, is_loopback
from api.auth.rules import READ_METHODS, roles_for
from api.auth.token_store import TokenCache
from api.route_templates import RouteTemplates
from caviar.settings import Settings

log = logging.getLogger("caviar.auth")
API_PREFIXES = ("/api/", "/metrics")


async def _answer(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class AccessMiddleware:
    def __init__(self, app: ASGIApp, templates: RouteTemplates, settings: Settings) -> None:
        self.app, self.templates, self.settings = app, templates, settings
        self._hosts: dict[int, frozenset[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("server") or ("", 0)
        loopback = is_loopback(str(server[0]))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if loopback and not self._host_ok(headers.get("host", "").lower(), int(server[1] or 0)):
            await _answer(
                send,
                421,
                f"Host {headers.get('host', '')!r} is not this server: a loopback Caviar answers "
                "only to 127.0.0.1, localhost or [::1] (see CAVIAR_ALLOWED_HOSTS)",
            )
            return
        method, path = scope["method"], scope["path"]
        template = self.templates.of(scope)
        if template is None and method in READ_METHODS and not path.startswith(API_PREFIXES):
            roles = None  # the dashboard's files, /docs, /openapi.json
        else:  # an undocumented route under /api falls to the method-based default
            roles = roles_for(method, template or path)
        if roles is None:
            await self.app(scope, receive, send)
            return
        cache = self._cache(scope)
        if cache.stale:
            await anyio.to_thread.run_sync(cache.refresh)
        if not cache.any_active():
            if loopback:
                await self.app(scope, receive, send)
                return
            await _denied(
                send,
                401,
                "this api listens beyond loopback and has no token: create "
                "one with `caviar token create --role admin`",
                scope,
            )
            return
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await _denied(
                send, 401, "a token is required: send 'Authorization: Bearer <token>'", scope
            )
            return
        role = cache.role_of(token.strip())
        if role is None:
            await _denied(send, 401, "the token is unknown or revoked", scope)
            return
        if role not in roles:
            need = " or ".join(sorted(roles))
            await _denied(
                send, 403, f"a {role} token may not {method} {template}: it needs {need}", scope
            )
            return
        await self.app(scope, receive, send)

    def _host_ok(self, host: str, port: int) -> bool:
        if port not in self._hosts:
            self._hosts[port] = allowed_host_headers(port, self.settings.allowed_hosts)
        return host in self._hosts[port]

    def _cache(self, scope: Scope) -> TokenCache:
        state: Any = scope["app"].state
        cache = getattr(state, "token_cache", None)
        if cache is None or cache.db is not state.db:
            cache = state.token_cache = TokenCache(state.db)
        return cache


async def _denied(send: Send, status: int, detail: str, scope: Scope) -> None:
    client = (scope.get("client") or ("?",))[0]
    log.info("%s %s %s from %s: %s", status, scope["method"], scope["path"], client, detail)
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    await _answer(send, status, detail, headers)
