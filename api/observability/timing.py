"""An ASGI middleware that times every request into ``caviar_http_request_duration_seconds``.

The route label is the path template (``/api/trials/{trial_id}``), never the raw path, so
the number of series stays bounded: it is read, after routing, from the route that the router
left in the request's scope (``api.route_templates``). Requests that match no API route (the
dashboard's files, unknown paths, answers refused before routing) count as ``other``.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.observability.metrics import ApiMetrics
from api.route_templates import template_of


class TimingMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            self.metrics.requests.labels(
                template_of(scope) or "other", scope["method"], str(status)
            ).observe(time.perf_counter() - start)
