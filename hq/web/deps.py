"""What a console handler needs from the app state (config, database) and who is asking, with their role.

The session is an HttpOnly, SameSite=Strict cookie holding a random token (the database
keeps only its hash). Every form that changes something carries the session's CSRF token
in a hidden field, checked here before the handler runs; SameSite alone would leave
older browsers open.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Form, Request

from appliance.errors import AuthError, Forbidden
from hq import users
from hq.config import HQConfig
from hq.db import HQDatabase

SESSION_COOKIE = "hq_session"
LANGUAGE_COOKIE = "hq_lang"
LOGIN_CSRF_COOKIE = "hq_login_csrf"


class LoginRequired(AuthError):
    """No live session: the browser is sent to the login page."""


def get_config(request: Request) -> HQConfig:
    return request.app.state.config


def get_db(request: Request) -> HQDatabase:
    return request.app.state.db


ConfigDep = Annotated[HQConfig, Depends(get_config)]
DbDep = Annotated[HQDatabase, Depends(get_db)]


def current_session(request: Request, db: DbDep, config: ConfigDep) -> users.Session:
    """The caller's session; raises LoginRequired without one."""
    found = users.session(db, request.cookies.get(SESSION_COOKIE), config.web.session_idle_minutes)
    if found is None:
        raise LoginRequired("log in first")
    request.state.session = found
    return found


def requires(role: str):
    """A dependency: the session of a user with ``role`` or above; raises Forbidden for a lesser role."""

    def dependency(session: Annotated[users.Session, Depends(current_session)]) -> users.Session:
        if not session.user.can(role):
            raise Forbidden(f"this needs the {role} role; {session.user.name} is {session.user.role}")
        return session

    return dependency


Viewer = Annotated[users.Session, Depends(requires("viewer"))]
Analyst = Annotated[users.Session, Depends(requires("analyst"))]
Admin = Annotated[users.Session, Depends(requires("admin"))]


def checked_csrf(session: users.Session, token: str) -> None:
    """Raises Forbidden unless ``token`` is the session's CSRF token."""
    if not hmac.compare_digest(token.encode(), session.csrf.encode()):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page and try again")


CsrfField = Annotated[str, Form()]
