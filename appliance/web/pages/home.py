"""The home screen: where the kiosk's browser starts, and the officer picks entry or exit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from appliance.web.deps import ConfigDep, OfficersDep, PageOfficer, StoreDep, page_officer
from appliance.web.errors import LoginRequired
from appliance.web.pages.render import CONTRAST_COOKIE, render
from appliance.workflow import crossings, drafts

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, officers: OfficersDep, config: ConfigDep, store: StoreDep) -> Response:
    try:
        officer = page_officer(request, officers)
    except LoginRequired:
        # The kiosk browser starts here: send it to the login page, not an error.
        return RedirectResponse("/login", status_code=303)
    draft = (drafts.load(store, officer, config.security.draft_minutes)
             if officer.role in ("officer", "supervisor") else None)
    return render(request, "home.html", officer, draft=draft,
                  referrals=crossings.count_open_referrals(store, training=config.kiosk.training))


@router.get("/contrast")
def contrast(request: Request, officer: PageOfficer, mode: str = "high") -> Response:
    """Switch this screen's high-contrast theme on or off (a display preference: a cookie, nothing stored)."""
    response = RedirectResponse("/", status_code=303)
    if mode == "high":
        response.set_cookie(CONTRAST_COOKIE, "high", max_age=365 * 86400, httponly=True, samesite="strict")
    else:
        response.delete_cookie(CONTRAST_COOKIE)
    return response
