"""The console's app factory: the pages over HQ's database, the static files, and how errors are shown.

Every page needs a logged-in HQ user (a lesser role gets 403); only ``/healthz`` is open,
and ``/metrics`` takes Prometheus's bearer token instead of a session.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from appliance.errors import Forbidden, NotFound, WorkflowError
from hq import __version__
from hq.config import HQConfig
from hq.db import HQDatabase
from hq.web.deps import LoginRequired
from hq.web.pages import alerts, crossings, fleet, kiosk, lists, login, metrics, statistics
from hq.web.render import message

ROUTERS = (login.router, fleet.router, kiosk.router, alerts.router, crossings.router, statistics.router, lists.router,
           metrics.router)


def _session(request: Request):
    return getattr(request.state, "session", None)


def create_app(config: HQConfig, db: HQDatabase) -> FastAPI:
    app = FastAPI(title="Border kiosk HQ console", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.config, app.state.db = config, db

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Exception) -> Response:
        return message(request, _session(request), 403, "Not allowed", str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: Exception) -> Response:
        return message(request, _session(request), 404, "Not found", str(exc))

    @app.exception_handler(WorkflowError)
    async def _refused(request: Request, exc: Exception) -> Response:
        return message(request, _session(request), 422, "Refused", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: Exception) -> Response:
        errors = list(exc.errors()) if isinstance(exc, RequestValidationError) else []
        text = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
        return message(request, _session(request), 422, "Refused", text or str(exc))

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("hq.web", "static")]), name="static")
    return app
