"""A web page on another site cannot change anything through the api, with or without tokens.

A request that may change something (any method but GET, HEAD and OPTIONS) gets 403 when:

- it carries ``Sec-Fetch-Site: cross-site`` (the browser says another site made it), or
- it carries an ``Origin`` that is neither the api's own (the request's scheme and ``Host``,
  default ports ignored) nor one of ``CAVIAR_ALLOWED_ORIGINS``; ``Origin: null`` (a sandboxed
  frame, a file) is another origin too.

A request without ``Origin`` passes: the CLI, the Python client and the workers send none, and
a browser always sends one with a cross-origin write, ``mode: "no-cors"`` included. No header
is stripped or changed (``Authorization``, ``Caviar-Claim`` pass as they came). Behind a proxy
that ends TLS, the scheme comes from ``X-Forwarded-Proto`` when the proxy is trusted
(``CAVIAR_TRUSTED_PROXIES``); otherwise list the public origin in ``CAVIAR_ALLOWED_ORIGINS``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth.answers import answer

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def normalized(origin: str) -> str | None:
    """``scheme://host:port`` in lower case with the port spelled out; None if not an origin."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def allowed_origins(setting: str) -> frozenset[str]:
    found = (normalized(o) for o in setting.split(",") if o.strip())
    return frozenset(o for o in found if o)


class CrossSiteMiddleware:
    def __init__(self, app: ASGIApp, allowed: str) -> None:
        self.app, self.allowed = app, allowed_origins(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            why = self.refusal(scope)
            if why is not None:
                await answer(send, 403, why)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        """Why this write is refused as cross-site, or None."""
        headers = {k: v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get(b"sec-fetch-site", "").strip().lower() == "cross-site":
            return (
                "a cross-site request may not change anything (Sec-Fetch-Site: cross-site); "
                "use the dashboard, the CLI or the client"
            )
        origin = headers.get(b"origin")
        if origin is None:
            return None
        own = normalized(f"{scope.get('scheme', 'http')}://{headers.get(b'host', '')}")
        seen = normalized(origin)
        if seen is not None and (seen == own or seen in self.allowed):
            return None
        return (
            f"a request from origin {origin!r} may not change anything: it is not this api's "
            "own origin nor one in CAVIAR_ALLOWED_ORIGINS"
        )
