"""The API's interactive docs at ``/docs``, served whole from the kiosk: Swagger UI's files come
from the ``fastapi-offline`` package (only its files: Swagger UI 5, which reads OpenAPI 3.1),
never from a CDN, so the page works at an offline post."""

from __future__ import annotations

import mimetypes
import re
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from appliance.errors import NotFound

router = APIRouter(include_in_schema=False)

ASSETS = "/docs/assets"
# Only the two files the page loads; no listing of the package, no path outside it.
ASSET_NAMES = re.compile(r"^swagger-ui(-bundle\.js|\.css)$")


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=request.app.openapi_url, title=f"{request.app.title}: API",
                               swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{ASSETS}/swagger-ui.css",
                               swagger_favicon_url="/ui/static/icon.svg")


@router.get(ASSETS + "/{name}")
def docs_asset(name: str) -> Response:
    if not ASSET_NAMES.match(name):
        raise NotFound(f"no docs asset {name!r}")
    source = resources.files("fastapi_offline").joinpath("static", name)
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(source.read_bytes(), media_type=media_type, headers={"Cache-Control": "max-age=86400"})
