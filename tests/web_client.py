"""A TestClient that behaves like the touchscreen's browser: it sends the page's CSRF token as the page script does.

The kiosk's pages embed the token (a meta tag and each form's ``csrf_token`` field) and
kiosk.js sends it as ``X-CSRF-Token``; a test that posts forms or script calls directly
gets the same token here, computed from its cookies as the pages compute it. Tests of the
CSRF check itself use a plain TestClient or ``csrf=False``.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi.testclient import TestClient

from appliance.web import csrf
from appliance.web.deps import SESSION_COOKIE

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class BrowserClient(TestClient):
    def request(self, method: str, url: Any, *args: Any, csrf_token: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        if csrf_token and method.upper() in UNSAFE:
            if not (self.cookies.get(SESSION_COOKIE) or self.cookies.get(csrf.PRESESSION_COOKIE)):
                # As if the browser had opened a page first: it holds a pre-session cookie.
                self.cookies.set(csrf.PRESESSION_COOKIE, secrets.token_urlsafe(32))
            secret = self.cookies.get(SESSION_COOKIE) or self.cookies.get(csrf.PRESESSION_COOKIE)
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault(csrf.CSRF_HEADER, csrf.token_of(str(secret)))
            kwargs["headers"] = headers
        return super().request(method, url, *args, **kwargs)
