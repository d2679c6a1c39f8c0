"""The Host check of a loopback api: a request whose ``Host`` is not 127.0.0.1, localhost or
[::1] with this port (or a ``CAVIAR_ALLOWED_HOSTS`` name) gets 421, so that a page on another
site cannot reach it by DNS rebinding. An api on another address has no such check (it needs
tokens, and the proxy or load balancer in front of it chooses its names)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth.answers import answer
from api.auth.loopback import allowed_host_headers, is_loopback


class HostCheckMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: str) -> None:
        self.app, self.allowed_hosts = app, allowed_hosts
        self._hosts: dict[int, frozenset[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address, port = scope.get("server") or ("", 0)
        if is_loopback(str(address)):
            host = next((v for k, v in scope["headers"] if k == b"host"), b"").decode("latin-1")
            if host.lower() not in self._allowed(int(port or 0)):
                await answer(
                    send,
                    421,
                    f"Host {host!r} is not this server: a loopback Caviar answers only to "
                    "127.0.0.1, localhost or [::1] (see CAVIAR_ALLOWED_HOSTS)",
                )
                return
        await self.app(scope, receive, send)

    def _allowed(self, port: int) -> frozenset[str]:
        if port not in self._hosts:
            self._hosts[port] = allowed_host_headers(port, self.allowed_hosts)
        return self._hosts[port]
