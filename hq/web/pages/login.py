"""Logging in and out, and the language choice (kept in a cookie, offered on every page)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from appliance.errors import AuthError, LockedOut
from hq import users
from hq.web.deps import LANGUAGE_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, ConfigDep, DbDep, checked_csrf
from hq.web.i18n import choose
from hq.web.render import render, translate

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only a path of this console: an absolute or scheme-relative URL would make the login an open redirect.
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def _login_page(request: Request, error: str | None, name: str = "", status_code: int = 200,
                next_path: str = "/") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, status_code=status_code, error=error, name=name,
                      login_csrf=token, next_path=next_path)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return _login_page(request, None, next_path=_safe_next(next))


@router.post("/login")
def login_submit(request: Request, db: DbDep, config: ConfigDep, name: Annotated[str, Form()] = "",
                 password: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "",
                 next: Annotated[str, Form()] = "/") -> Response:
    _ = translate(request)
    name = name.strip().lower()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
        return _login_page(request, _("The login form expired: try again."), name, 403, _safe_next(next))
    if not name or not password:
        return _login_page(request, _("Enter your user name and your password."), name, 422, _safe_next(next))
    try:
        session = users.login(db, name, password, config.web.max_failed_logins, config.web.lockout_minutes)
    except LockedOut:
        return _login_page(request, _("Too many wrong passwords: this user is locked out for {minutes} minutes.",
                                      minutes=config.web.lockout_minutes), name, 423, _safe_next(next))
    except AuthError:
        return _login_page(request, _("Unknown user or wrong password."), name, 401, _safe_next(next))
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="strict", path="/",
                        secure=config.web.secure_cookies)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, db: DbDep, config: ConfigDep, csrf: Annotated[str, Form()] = "") -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    session = users.session(db, token, config.web.session_idle_minutes)
    if session is not None:
        checked_csrf(session, csrf)  # another site must not be able to log the user out either
        users.logout(db, session.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/language/{lang}")
def set_language(lang: str, next: str | None = None) -> Response:
    response = RedirectResponse(quote(_safe_next(next), safe="/?=&"), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, choose(lang), httponly=True, samesite="strict", path="/")
    return response
