"""Security headers on every answer: the dashboard runs under a Content-Security-Policy that
allows only its own scripts (no inline script, nothing from another origin), and no page may
frame it.

``'unsafe-eval'`` is there for one reason: with a hardware GPU the dashboard loads plotly.js's
full bundle, whose WebGL traces (scattergl, parcoords) compile their draw calls with
``Function`` (regl); without it those plots would not draw. The basic bundle needs none of it.

``/docs`` (Swagger UI) starts itself with an inline script that FastAPI writes, so its policy
allows inline scripts on that page alone; it loads nothing from another origin either.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = DASHBOARD_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
COMMON = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in ("/docs", "/docs/") else DASHBOARD_CSP
        extra = [*COMMON, (b"content-security-policy", csp.encode())]

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in extra if k not in names),
                ]
            await send(message)

        await self.app(scope, receive, _send)
