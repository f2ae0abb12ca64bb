"""What a handler needs, read from the app's state: config, store, officers, devices, and who is asking.

``create_app`` puts the kiosk's objects on ``app.state``; handlers take them as
``Annotated`` dependencies (``store: StoreDep``), so each handler is a plain function that
a test can call or override alone.

The browser holds the officer's session as a cookie (HttpOnly, SameSite=Strict) that maps
to the same officer session as a bearer token. ``ui_session_token`` lets the JSON API
accept that cookie too, but only on requests that carry the ``X-Kiosk-UI`` header: a page
from another origin cannot add a custom header without a CORS preflight, which this app
never grants, so the cookie cannot be replayed by a cross-site form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Header, Request

from appliance.config import Config
from appliance.errors import AuthError
from appliance.storage.officers import Officer, Officers
from appliance.storage.store import Store
from appliance.web.errors import LoginRequired

if TYPE_CHECKING:
    from appliance.hw.power_policy import PowerPolicy

SESSION_COOKIE = "kiosk_session"
LANGUAGE_COOKIE = "kiosk_lang"
UI_HEADER = "X-Kiosk-UI"


def get_config(request: Request) -> Config:
    return request.app.state.config


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_officers(request: Request) -> Officers:
    return request.app.state.officers


def get_devices(request: Request) -> Any:
    """The opened hardware (``appliance.hw.Devices``), or None on a kiosk run without devices."""
    return request.app.state.devices


def get_power_policy(request: Request) -> PowerPolicy | None:
    """The running power policy; None until the service starts it (or when it is disabled)."""
    return getattr(request.app.state, "power_policy", None)


ConfigDep = Annotated[Config, Depends(get_config)]
StoreDep = Annotated[Store, Depends(get_store)]
OfficersDep = Annotated[Officers, Depends(get_officers)]
DevicesDep = Annotated[Any, Depends(get_devices)]


def ui_session_token(request: Request) -> str | None:
    """The session token of the touchscreen's cookie, for the page script's own API calls only.

    None unless the request carries ``X-Kiosk-UI: 1`` (see the module docstring for why).
    """
    if request.headers.get(UI_HEADER) != "1":
        return None
    return request.cookies.get(SESSION_COOKIE)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header; raises AuthError without one."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("not logged in: send 'Authorization: Bearer <token>' from POST /api/login")
    return authorization[7:].strip()


def current_officer(request: Request, officers: OfficersDep,
                    authorization: Annotated[str | None, Header()] = None) -> Officer:
    """The officer of the bearer token (or the touchscreen's cookie); raises AuthError without a live session."""
    token = None if authorization else ui_session_token(request)
    return officers.session(token or bearer_token(authorization)).officer


def _script_token(request: Request) -> str:
    token = ui_session_token(request)
    if not token:
        raise AuthError(f"not logged in: {request.url.path} is for the touchscreen's own page")
    return token


def script_officer(request: Request, officers: OfficersDep) -> Officer:
    """The officer of a call from the touchscreen's own page script (cookie and ``X-Kiosk-UI``); raises AuthError."""
    return officers.session(_script_token(request)).officer


def peek_officer(request: Request, officers: OfficersDep) -> Officer:
    """The officer of the page script's session, checked without refreshing its idle timer.

    The live preview asks several times a second: a refresh would write the sessions
    table at that rate (the preview writes nothing) and would keep an unattended
    screen's session alive.
    """
    return officers.session(_script_token(request), refresh=False).officer


def page_officer(request: Request, officers: OfficersDep) -> Officer:
    """The officer of the session cookie; raises LoginRequired (sent to the login page) without a live session."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired()
    try:
        return officers.session(token).officer
    except AuthError:
        raise LoginRequired("expired") from None


Authenticated = Annotated[Officer, Depends(current_officer)]
ScriptOfficer = Annotated[Officer, Depends(script_officer)]
PeekOfficer = Annotated[Officer, Depends(peek_officer)]
PageOfficer = Annotated[Officer, Depends(page_officer)]
