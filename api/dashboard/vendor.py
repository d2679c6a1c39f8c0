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
# The full plotly.js bundle, as the pinned `plotly` package ships it (WebGL traces included), and
# plotly.js's "basic" bundle (scatter, bar and pie) of the same version, carried in web/vendor:
# a quarter of the size, for browsers without a hardware GPU, which draw only SVG traces.
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_BASIC_JS = Path(__file__).resolve().parents[2] / "web" / "vendor" / "plotly-basic.min.js"
# Swagger UI, as the pinned fastapi-offline package ships it.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


@cache
def _gzipped(path: Path) -> bytes:
    """Compressed once per process (the full bundle: 4.8 MB of JavaScript becomes 1.5 MB)."""
    return gzip.compress(path.read_bytes(), compresslevel=9)


def _script(path: Path, request: Request) -> Response:
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(_gzipped(path), media_type="text/javascript", headers=headers)
    return Response(path.read_bytes(), media_type="text/javascript", headers=headers)


@router.get("/plotly.min.js", include_in_schema=False)
def plotly_js(request: Request) -> Response:
    return _script(PLOTLY_JS, request)


@router.get("/plotly-basic.min.js", include_in_schema=False)
def plotly_basic_js(request: Request) -> Response:
    return _script(PLOTLY_BASIC_JS, request)


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
