"""The screen a kiosk shows when it has no usable config: why, and what the technician does next.

A refused first boot leaves no ``/etc/kiosk/kiosk.toml`` (nothing half-applied stays), so the
kiosk itself cannot start; ``kiosk run --fallback-screen`` then serves this app instead, so
the touchscreen says what is wrong rather than staying black. It holds no store, no devices
and no officer: one page in English and French, ``/api/health`` (503, ``"unprovisioned"``),
and the page's style sheet. Nothing here can change any data.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from appliance import __version__
from appliance.web import i18n

_templates = Environment(loader=PackageLoader("appliance.web", "templates"),
                         autoescape=select_autoescape(["html"]))


def _texts(lang: str) -> Any:
    table = i18n.catalogue(lang)
    return lambda text, **values: (table.get(text) or text).format(**values) if values else table.get(text) or text


def create_app(problem: str, provisioning: dict[str, Any] | None, config_path: str) -> FastAPI:
    """The fallback app: ``problem`` is why the config cannot be used; ``provisioning`` the last first-boot outcome."""
    app = FastAPI(title="Border kiosk (not provisioned)", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.mount("/ui/static", StaticFiles(packages=[("appliance.web", "static")]), name="static")
    refused = provisioning if provisioning and provisioning.get("state") == "refused" else None
    details = [line.strip(" -") for line in str(refused.get("message", "")).splitlines()[1:] if line.strip()] \
        if refused else []
    health = {"status": "unprovisioned", "version": __version__, "post_id": None, "kiosk_id": None,
              "problem": problem, "config": config_path,
              "provisioning": {key: provisioning.get(key) for key in ("state", "at", "message")}
              if provisioning else None}

    @app.get("/api/health")
    def unprovisioned_health() -> Response:
        """Health of a kiosk that cannot run: 503 with why (no authentication, no personal data)."""
        return JSONResponse(health, status_code=503)

    @app.get("/", response_class=HTMLResponse)
    def screen() -> HTMLResponse:
        page = _templates.get_template("unprovisioned.html").render(
            languages=[(lang, _texts(lang)) for lang in i18n.LANGUAGES],
            problem=problem, refused=refused, details=details, config_path=config_path, version=__version__)
        return HTMLResponse(page)

    @app.exception_handler(404)
    async def home_instead(request: Request, _exc: Exception) -> Response:
        # The browser may have kept an old page's address: every page is this one.
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "this kiosk is not provisioned: only /api/health answers",
                                 "kind": "NotProvisioned"}, status_code=503)
        return RedirectResponse("/", status_code=303)

    return app
