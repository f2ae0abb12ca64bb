"""The kiosk's own error page for a screen asked for with bad parameters or at an unknown address.

The touchscreen must never show raw JSON to an officer; the JSON API, the page script's
calls and the API docs keep the one error shape ``{"error", "kind"}``: ``appliance.web.errors``
decides which (its ``JSON_PREFIXES``) and calls ``page_error``, which the app factory hands it.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from appliance.errors import AuthError
from appliance.web.deps import page_officer
from appliance.web.i18n import N_
from appliance.web.pages.render import message, render, translate

TEXT = {
    404: (N_("Page not found"), N_("This kiosk has no such screen. Go back to the home screen.")),
    405: (N_("Page not found"), N_("This kiosk has no such screen. Go back to the home screen.")),
    422: (N_("Cannot show this screen"),
          N_("The address asks for something this screen does not know. Go back to the home screen and try again.")),
}


def page_error(request: Request, status_code: int) -> HTMLResponse:
    """The error screen for ``status_code``, in the officer's language, with the status bar and a way home."""
    try:
        officer = page_officer(request, request.app.state.officers)
    except AuthError:
        officer = None
    title, text = TEXT.get(status_code, TEXT[422])
    if officer is not None:
        return message(request, officer, status_code, title, text)
    _ = translate(request)
    return render(request, "message.html", None, status_code=status_code, title=_(title), text=_(text))
