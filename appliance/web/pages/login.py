"""The login page (officer ID, PIN, language) and logging out; the session lives in an HttpOnly cookie."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from appliance.errors import AuthError, LockedOut, NotFound, WrongPin
from appliance.web.deps import LANGUAGE_COOKIE, SESSION_COOKIE, OfficersDep
from appliance.web.i18n import choose
from appliance.web.pages.render import Refusal, post_time, render, supervisor_session, translate

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
    return render(request, "login.html", note=note, error=None, officer_id="", locked=False)


@router.post("/login")
def login_submit(request: Request, officers: OfficersDep, officer_id: Annotated[str, Form()] = "",
                 pin: Annotated[str, Form()] = "") -> Response:
    _ = translate(request)
    officer_id = officer_id.strip()
    if not officer_id or not pin:
        return render(request, "login.html", note=None, officer_id=officer_id, status_code=422,
                      error=_("Enter your officer ID and your PIN."), locked=False)
    try:
        session = officers.login(officer_id, pin)
    except LockedOut:
        until = officers.get(officer_id).locked_until
        return render(request, "login.html", note=None, officer_id=officer_id, status_code=423, locked=True,
                      error=_("Too many wrong PINs: this officer is locked out until {time}. "
                              "A supervisor can unlock the account now with their own PIN.",
                              time=post_time(request)(until)))
    except WrongPin as exc:
        return render(request, "login.html", note=None, officer_id=officer_id, status_code=401, locked=False,
                      error=_("Unknown officer ID or wrong PIN. Tries left before this ID is locked out: {count}.",
                              count=exc.tries_left))
    except AuthError:
        return render(request, "login.html", note=None, officer_id=officer_id, status_code=401, locked=False,
                      error=_("Unknown officer ID or wrong PIN."))
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="strict", path="/")
    return response


@router.get("/login/unlock")
def unlock_page(request: Request, officers: OfficersDep, officer_id: str = "") -> Response:
    """A supervisor unlocks a locked-out officer here, with the supervisor's own ID and PIN."""
    return render(request, "unlock.html", officer_id=officer_id.strip(), supervisor_id="", error=None)


@router.post("/login/unlock")
def unlock_submit(request: Request, officers: OfficersDep, officer_id: Annotated[str, Form()] = "",
                  supervisor_id: Annotated[str, Form()] = "", pin: Annotated[str, Form()] = "") -> Response:
    """Unlock ``officer_id`` for a supervisor who logs in to do it (audited as that supervisor; the session ends at once)."""
    _ = translate(request)
    officer_id, supervisor_id = officer_id.strip(), supervisor_id.strip()

    def refuse(text: str, status_code: int) -> Response:
        return render(request, "unlock.html", officer_id=officer_id, supervisor_id=supervisor_id, error=text,
                      status_code=status_code)

    if not officer_id or not supervisor_id or not pin:
        return refuse(_("The supervisor must enter their ID and PIN."), 422)
    with supervisor_session(officers, supervisor_id, pin, _) as session:
        if isinstance(session, Refusal):
            return refuse(*session)
        if session.officer.role != "supervisor":
            return refuse(_("Only a supervisor can unlock an officer."), 403)
        try:
            officers.unlock(officer_id, actor=session.officer.id)
        except NotFound:
            return refuse(_("There is no officer {officer} on this kiosk.", officer=officer_id), 404)
    return RedirectResponse("/login?note=unlocked", status_code=303)


@router.post("/logout")
def logout(request: Request, officers: OfficersDep, reason: Annotated[str, Form()] = "") -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        officers.logout(token)
    note = reason if reason in ("idle", "idle-crossing") else "bye"
    response = RedirectResponse("/login?note=" + note, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
