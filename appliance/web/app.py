"""The kiosk's app factory: the JSON API and the touchscreen's pages over one store.

Every route except ``/api/health`` and ``/api/login`` needs a bearer token from
``POST /api/login`` (or the touchscreen's session cookie, see ``appliance.web.deps``).
Errors come back as ``{"error": message, "kind": ErrorClass}`` with a status that says
which side is wrong (see ``appliance.web.errors`` and docs/api.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from appliance import __version__
from appliance.config import Config
from appliance.storage.officers import Officers
from appliance.storage.store import Store
from appliance.web import csrf, errors, limits
from appliance.web.api import captures, crossings, devices, docs, export, health, lists, session, statistics, uplink
from appliance.web.api import stick as stick_api
from appliance.web.pages import (crossing, diagnostics, error_page, history, home, login, referrals, render, result,
                                 setup, status, stick)
from appliance.web.pages import statistics as statistics_page

API_ROUTERS = (health.router, session.router, crossings.router, captures.router, statistics.router,
               lists.router, devices.router, uplink.router, export.router, stick_api.router, docs.router)
PAGE_ROUTERS = (login.router, setup.router, home.router, crossing.router, result.router, history.router,
                statistics_page.router, diagnostics.router, status.router, referrals.router, stick.router)


def create_app(config: Config, store: Store, devices: Any = None) -> FastAPI:
    """The kiosk's app over one store; ``devices`` is the opened hardware (None: no devices)."""
    # FastAPI's own /docs and /redoc load their scripts from a CDN: blank at an offline post.
    # The docs router serves Swagger UI from the package instead; ReDoc is not offered.
    app = FastAPI(title="Border kiosk", version=__version__, description=__doc__, docs_url=None, redoc_url=None)
    app.state.config = config
    app.state.store = store
    app.state.officers = Officers(store, config.security)
    app.state.devices = devices
    app.state.power_policy = None  # set by the service once the policy runs
    errors.register(app, page_error=error_page.page_error, translate=render.translate)
    app.add_middleware(limits.BodyLimit, max_bytes=config.api.max_body_bytes)
    # Before the routers are included: each route takes the app's dependencies when it is added.
    app.router.dependencies.append(Depends(csrf.require_token))
    for router in API_ROUTERS + PAGE_ROUTERS:
        app.include_router(router)
    return app
