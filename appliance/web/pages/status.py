"""The status bar alone, for the page's periodic refresh, and the UI's static assets."""

from __future__ import annotations

import mimetypes
import re
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from appliance.errors import NotFound
from appliance.web.pages.render import POWER_LEVEL_TEXT, TEMPLATES, status_snapshot, translate

router = APIRouter(include_in_schema=False)

STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(css|js|svg)$")


@router.get("/ui/status")
def status_fragment(request: Request) -> HTMLResponse:
    """The status bar alone, for the page's periodic refresh.

    No session needed, and none is refreshed: the bar holds no personal data, and a
    screen left open must still time out after the idle limit.
    """
    page = TEMPLATES.get_template("statusbar.html").render(
        _=translate(request), status=status_snapshot(request), POWER_LEVEL_TEXT=POWER_LEVEL_TEXT)
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/ui/static/{name}")
def static(name: str) -> Response:
    if not STATIC_NAME.match(name):
        raise NotFound(f"no UI asset {name!r}")
    source = resources.files("appliance.web").joinpath("static").joinpath(name)
    if not source.is_file():
        raise NotFound(f"no UI asset {name!r}")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(source.read_bytes(), media_type=media_type, headers={"Cache-Control": "no-cache"})
