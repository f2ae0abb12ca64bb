"""The login page (officer ID, PIN, language) and logging out; the session lives in an HttpOnly cookie."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from appliance.errors import AuthError, LockedOut
from appliance.web.deps import LANGUAGE_COOKIE, SESSION_COOKIE, OfficersDep
from appliance.web.i18n import choose
from appliance.web.pages.render import post_time, render, translate

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request, officers: OfficersDep, note: str | None = None, lang: str | None = None) -> Response:
    if lang is not None:
        # The language is chosen here, before logging in, and kept for the whole session.
        response = RedirectResponse("/login" + (f"?note={quote(note)}" if note else ""), status_code=303)
        response.set_cookie(LANGUAGE_COOKIE, choose(lang), httponly=True, samesite="strict")
        return response
    if not officers.has_supervisor():
        # First boot without a provisioned supervisor: no default PIN, the screen asks for one.
        return RedirectResponse("/setup", status_code=303)
    return render(request, "login.html", note=note, error=None, officer_id="")


@router.post("/login")
def login_submit(request: Request, officers: OfficersDep, officer_id: Annotated[str, Form()] = "",
                 pin: Annotated[str, Form()] = "") -> Response:
    _ = translate(request)
    officer_id = officer_id.strip()
    if not officer_id or not pin:
        return render(request, "login.html", note=None, officer_id=officer_id, status_code=422,
                      error=_("Enter your officer ID and your PIN."))
    try:
        session = officers.login(officer_id, pin)
    except LockedOut:
        until = officers.get(officer_id).locked_until
        return render(request, "login.html", note=None, officer_id=officer_id, status_code=423,
                      error=_("Too many wrong PINs: this officer is locked out until {time}. "
                              "Ask a supervisor to unlock the account.", time=post_time(request)(until)))
    except AuthError:
        return render(request, "login.html", note=None, officer_id=officer_id, status_code=401,
                      error=_("Unknown officer ID or wrong PIN."))
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="strict", path="/")
    return response


@router.post("/logout")
def logout(request: Request, officers: OfficersDep, reason: Annotated[str, Form()] = "") -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        officers.logout(token)
    response = RedirectResponse("/login?note=" + ("idle" if reason == "idle" else "bye"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
