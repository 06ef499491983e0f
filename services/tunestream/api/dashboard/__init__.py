"""The web dashboard: a small single-page app (plain JS, hash routing) served by the api.

`/` redirects to `/dashboard/`; the page and its assets load without the api token (they hold no
data); the page itself sends `Authorization: Bearer` on its calls to the JSON routes. plotly.js is
the file bundled in the plotly Python package, served from there (gzipped once, in memory).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import threading
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
# Our own assets change with the code: the browser asks again every time (a 304 when unchanged).
NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
router = APIRouter(include_in_schema=False)
_lock = threading.Lock()


@cache
def _plotly_js() -> tuple[bytes, bytes, str]:
    """plotly.min.js from the plotly package: (raw, gzipped, etag)."""
    with _lock:
        path = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
        raw = path.read_bytes()
        return raw, gzip.compress(raw, compresslevel=6, mtime=0), '"' + hashlib.sha256(raw).hexdigest()[:20] + '"'


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=307)


@router.get("/dashboard")
def dashboard_no_slash() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=307)


@router.get("/dashboard/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=NO_CACHE)


@router.get("/dashboard/static/plotly.min.js")
def plotly_js(request: Request) -> Response:
    raw, zipped, etag = _plotly_js()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(zipped, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"})
    return Response(raw, media_type="text/javascript", headers=headers)


@router.get("/dashboard/static/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=NO_CACHE)
