"""Packaged front-end libraries, served from their PyPI packages (no CDN, works offline)."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

import plotly
from fastapi import APIRouter, Request, Response

router = APIRouter(prefix="/vendor", tags=["web"])
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


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
