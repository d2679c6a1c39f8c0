"""``/metrics``: Prometheus's text format (readable with a viewer token, or open on loopback
while no token exists)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth.access import READERS

router = APIRouter(tags=["observability"], dependencies=[READERS])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Trials by state, queue depth, request latencies (see the README's Observability)."""
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
