"""The one shape of every error the app answers, ``{"error": message, "kind": ErrorClass}``, and its statuses.

A client (the page script, HQ tools, a technician's curl) reads ``error`` to show and
``kind`` to decide; the status says which side is wrong. docs/api.md keeps the same table.
An error that carries a reason code (``MRZError.reason``, ``WorkflowError.reason``) also
answers it as ``reason`` ({"code", "params", "text"}) and as ``message``, the reason in the
officer's language (the language cookie), which the touchscreen shows; ``error`` stays English.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from appliance.domain.reasons import Reason
from appliance.errors import (
    AuthError,
    DeviceError,
    Forbidden,
    KioskError,
    LockedOut,
    MRZError,
    NotFound,
    WorkflowError,
)
from appliance.web import reasons

log = logging.getLogger(__name__)

# Addresses whose callers read JSON: the API, the page script's own calls and assets, the API docs.
# Anything else is a screen the touchscreen's browser shows: it gets the kiosk's error page.
JSON_PREFIXES = ("/api/", "/ui/", "/openapi.json", "/docs/")
PageError = Callable[[Request, int], Response]
Translate = Callable[..., str]

# A device missing or failing, whatever the device: the one status a client retries or works around.
DEVICE_UNAVAILABLE = 503
# First match wins, so a subclass comes before its base.
STATUS: tuple[tuple[type[KioskError], int], ...] = (
    (LockedOut, 423),
    (Forbidden, 403),
    (AuthError, 401),
    (NotFound, 404),
    (MRZError, 422),
    (WorkflowError, 422),
    (DeviceError, DEVICE_UNAVAILABLE),
    (KioskError, 400),
)


class LoginRequired(AuthError):
    """A page was asked for without a live session: the browser is sent to the login page."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__("log in first")
        self.location = "/login" + (f"?note={reason}" if reason else "")


class CsrfRefused(Forbidden):
    """A state-changing browser request without its session's CSRF token (``appliance.web.csrf``)."""


def status_of(exc: KioskError) -> int:
    """The HTTP status that answers ``exc`` (see ``STATUS``)."""
    return next(code for kind, code in STATUS if isinstance(exc, kind))


def error_response(message: str, kind: str, status_code: int, extra: dict[str, object] | None = None) -> JSONResponse:
    """The app's one error answer (``extra`` added to it); a 401 also says how to authenticate."""
    headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
    return JSONResponse({"error": message, "kind": kind, **(extra or {})}, status_code=status_code, headers=headers)


def kiosk_error_response(exc: KioskError, status_code: int | None = None,
                         translate: Translate | None = None) -> JSONResponse:
    """``exc`` answered with its own status, or ``status_code`` where a route knows better; with
    its reason code (and, given ``translate``, the reason in the officer's language) when it has one."""
    extra: dict[str, object] = {}
    why = getattr(exc, "reason", None)
    if isinstance(why, Reason):
        extra["reason"] = why.to_dict()
        if translate is not None:
            extra["message"] = reasons.render(translate, why)
    return error_response(str(exc), type(exc).__name__, status_code or status_of(exc), extra)


async def _kiosk_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KioskError)
    if isinstance(exc, DeviceError):
        # The device's own words (a serial error, a driver's message) are for a technician:
        # the officer's screen says the failure in plain words from its kind (kiosk.js
        # deviceFailure), and the log keeps what the device said.
        log.warning("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    translate: Callable[[Request], Translate] | None = getattr(request.app.state, "translate", None)
    return kiosk_error_response(exc, translate=translate(request) if translate is not None else None)


async def _login_required(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.location, status_code=303)


def _page_error(request: Request) -> PageError | None:
    """The app's error screen (``register``'s ``page_error``) when ``request`` is for a screen, else None."""
    page_error: PageError | None = getattr(request.app.state, "page_error", None)
    return page_error if page_error is not None and not request.url.path.startswith(JSON_PREFIXES) else None


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    page_error = _page_error(request)
    if page_error is not None:
        return page_error(request, 422)
    # FastAPI's own list of problems, flattened to the message a person reads: "body.direction: ...".
    message = "; ".join(
        ".".join(str(part) for part in error.get("loc", ())) + ": " + str(error.get("msg", ""))
        for error in exc.errors()
    )
    return error_response(message, "RequestValidationError", 422)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own answers: no such route (404), wrong method (405).
    assert isinstance(exc, StarletteHTTPException)
    page_error = _page_error(request)
    if exc.status_code in (404, 405) and page_error is not None:
        return page_error(request, exc.status_code)
    phrase = HTTPStatus(exc.status_code).phrase
    response = error_response(str(exc.detail), phrase.replace(" ", "").replace("-", ""), exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def register(app: FastAPI, page_error: PageError | None = None,
             translate: Callable[[Request], Translate] | None = None) -> None:
    """Answer every error of ``app`` in the one shape; ``page_error`` renders a screen's 404/405/422 instead,
    ``translate`` gives a request's officer's language for a reason's ``message``.

    The error screen and the language are handed in (by the app factory) rather than imported:
    they come with the pages' templates and session, which themselves raise the errors handled here.
    """
    app.state.page_error = page_error
    app.state.translate = translate
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(KioskError, _kiosk_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
