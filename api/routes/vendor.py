"""Packaged front-end libraries, served from their PyPI packages (no CDN, works offline)."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

import fastapi_offline
import plotly
from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(prefix="/vendor", tags=["web"])
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# Swagger UI, as the pinned fastapi-offline package ships it.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


@cache
def _plotly_gzip() -> bytes:
    """Compressed once per process: 4.8 MB of JavaScript becomes about 1.5 MB."""
    return gzip.compress(PLOTLY_JS.read_bytes(), compresslevel=9)


@router.get("/plotly.min.js", include_in_schema=False)
def plotly_js(request: Request) -> Response:
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(_plotly_gzip(), media_type="text/javascript", headers=headers)
    return Response(PLOTLY_JS.read_bytes(), media_type="text/javascript", headers=headers)


@router.get("/docs/{name}", include_in_schema=False)
def docs_asset(name: str) -> Response:
    """The API docs' scripts and styles (no CDN: /docs works offline)."""
    media = DOCS_FILES.get(name)
    if media is None:
        return Response(status_code=404)
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response((DOCS_ASSETS / name).read_bytes(), media_type=media, headers=headers)


def docs_router(title: str, openapi_url: str) -> APIRouter:
    """``/docs``: Swagger UI with its assets from ``/vendor/docs``. (No ``/redoc``: ReDoc
    loads its logo from a CDN.)"""
    pages = APIRouter(include_in_schema=False)

    @pages.get("/docs")
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} · API",
            swagger_js_url="/vendor/docs/swagger-ui-bundle.js",
            swagger_css_url="/vendor/docs/swagger-ui.css",
            swagger_favicon_url="/vendor/docs/favicon.png",
        )

    return pages
