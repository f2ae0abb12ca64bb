"""First boot on the touchscreen: the first supervisor's PIN, and the kiosk's public key (text and QR code) for enrolment at HQ.

The setup page stands in for the login page only while no supervisor was ever enrolled;
once one exists every setup route sends the browser to the login page, for good (a
disabled supervisor still counts, so disabling the last one cannot reopen it).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from appliance.config import Config
from appliance.errors import KioskError
from appliance.storage.officers import InvalidPin, check_officer
from appliance.web.deps import ConfigDep, OfficersDep
from appliance.web.pages.render import render, translate
from appliance.web.qr import qr_svg
from appliance.workflow import provision

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


def enrolment(request: Request, config: Config) -> dict[str, Any]:
    """What HQ needs to enrol this kiosk (ids, public key, its QR code) and the last provisioning run's outcome.

    Read from the files on every request, so a key made by `kiosk provision` on a running
    kiosk shows without a restart.
    """
    _ = translate(request)
    try:
        key = provision.public_key(config)
        key_error = None
    except KioskError as exc:  # a damaged key file must not take the screen down; it is shown instead
        log.error("kiosk signing key unreadable: %s", exc)
        key, key_error = None, str(exc)
    post, kiosk = config.kiosk.post_id, config.kiosk.kiosk_id
    return {
        "post_id": post,
        "kiosk_id": kiosk,
        "public_key": key,
        "key_error": key_error,
        "qr": qr_svg(key, _("QR code of the kiosk's public key")) if key else None,
        "command": f"kiosk-hq enrol {post} {kiosk} {key}" if key else None,
        "provision": provision.read_status(config),
    }


def _setup_page(request: Request, config: Config, status_code: int = 200, error: str | None = None,
                officer_id: str = "") -> Response:
    return render(request, "setup.html", status_code=status_code, error=error, officer_id=officer_id,
                  pin_min_length=config.security.pin_min_length, enrolment=enrolment(request, config))


@router.get("/setup")
def setup_page(request: Request, config: ConfigDep, officers: OfficersDep) -> Response:
    if officers.has_supervisor():
        return RedirectResponse("/login", status_code=303)
    return _setup_page(request, config)


@router.post("/setup")
def setup_submit(request: Request, config: ConfigDep, officers: OfficersDep,
                 officer_id: Annotated[str, Form()] = "", pin: Annotated[str, Form()] = "",
                 pin_again: Annotated[str, Form()] = "") -> Response:
    if officers.has_supervisor():
        return RedirectResponse("/login", status_code=303)
    _ = translate(request)
    officer_id = officer_id.strip()
    try:
        check_officer(officer_id, "supervisor")
    except KioskError:
        return _setup_page(request, config, 422, officer_id=officer_id,
                           error=_("An ID has 1 to 64 letters, digits, '.', '_' or '-'."))
    if pin != pin_again:
        return _setup_page(request, config, 422, officer_id=officer_id,
                           error=_("The two PINs differ. Type the same PIN twice."))
    try:
        officers.add_first_supervisor(officer_id, pin, actor="setup")
    except InvalidPin:
        return _setup_page(request, config, 422, officer_id=officer_id, error=_(
            "This PIN is not allowed: use at least {length} digits, not all the same and not in a row "
            "(like 111111 or 123456).", length=config.security.pin_min_length))
    except KioskError as exc:
        # Another screen enrolled a supervisor first, or the id is taken: setup is over either way.
        log.warning("first-supervisor setup refused: %s", exc)
        if officers.has_supervisor():
            return RedirectResponse("/login", status_code=303)
        return _setup_page(request, config, 409, officer_id=officer_id,
                           error=_("This ID is taken by another officer: choose another."))
    return RedirectResponse("/login?note=setup", status_code=303)
