"""CSRF protection for the touchscreen: every state-changing browser request carries a token of its session.

The browser's credential is a cookie, which it sends with any request to the kiosk, even
one a page of another origin makes it send (a form posted from elsewhere). So every
POST (PUT, PATCH, DELETE) that the cookie could authenticate must also carry a token
that only the kiosk's own pages know: the HMAC of the session token (the HttpOnly
cookie, which no script can read), sent as the ``X-CSRF-Token`` header by the page
script and as the ``csrf_token`` field by plain forms. Before login (the login and
first-boot setup forms) the same is done over a random pre-session cookie.

Not checked: safe methods (they change nothing), and ``/api/`` calls that carry no
session cookie or an ``Authorization`` header: a bearer token is never sent by the
browser on its own, so a forged request cannot carry one (docs/api.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response

from appliance.web.deps import SESSION_COOKIE
from appliance.web.errors import CsrfRefused

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
PRESESSION_COOKIE = "kiosk_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def token_of(secret: str) -> str:
    """The CSRF token of a session (or pre-session) cookie value: a keyed hash, so it reveals nothing of the cookie."""
    digest = hmac.new(secret.encode(), b"kiosk csrf v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def expected_token(request: Request) -> str | None:
    """The token this browser's requests must carry, from its session cookie, else its pre-session cookie."""
    secret = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE)
    return token_of(secret) if secret else None


def page_token(request: Request) -> tuple[str, str | None]:
    """(token for a page to embed, pre-session cookie value to set or None).

    A browser with neither cookie (first visit, after logout) gets a new pre-session
    cookie, so the login form it is shown can be checked too.
    """
    token = expected_token(request)
    if token is not None:
        return token, None
    secret = secrets.token_urlsafe(32)
    return token_of(secret), secret


def set_presession_cookie(response: Response, secret: str | None) -> None:
    if secret is not None:
        response.set_cookie(PRESESSION_COOKIE, secret, httponly=True, samesite="strict", path="/")


def _checked(request: Request) -> bool:
    if request.method in SAFE_METHODS:
        return False
    if request.url.path.startswith("/api/"):
        # Only the cookie is an ambient credential; a bearer client (or no credential at all,
        # which the route itself refuses) cannot be driven by another origin's page.
        return SESSION_COOKIE in request.cookies and "authorization" not in request.headers
    return True


async def require_token(request: Request) -> None:
    """App-wide dependency: raises CsrfRefused (403) for a state-changing browser request without its token."""
    if not _checked(request):
        return
    expected = expected_token(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        # Starlette caches the parsed form, so the route's own Form() fields read the same one.
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if expected is None:
        raise CsrfRefused(f"{request.method} {request.url.path} refused: this browser has no kiosk session or "
                          "page token (open the page again)")
    if not sent:
        raise CsrfRefused(f"{request.method} {request.url.path} refused: no CSRF token (send the page's token as "
                          f"the {CSRF_HEADER} header or the {CSRF_FIELD} form field)")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused(f"{request.method} {request.url.path} refused: the CSRF token is not this session's "
                          "(the page is stale or from elsewhere: open it again)")
