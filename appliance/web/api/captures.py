"""Biometric captures over the API: a face photo, a fingerprint; each stored encrypted until a crossing links it."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Request

from appliance.errors import ConfigError
from appliance.web import i18n, reasons
from appliance.web.deps import LANGUAGE_COOKIE, Authenticated, ConfigDep, DevicesDep, StoreDep
from appliance.web.errors import DEVICE_UNAVAILABLE, kiosk_error_response
from appliance.web.models import CaptureBody
from appliance.workflow import biometrics

router = APIRouter(tags=["captures"])


def _capture(take: Callable[[], dict[str, Any]]) -> Any:
    """Run a capture; a missing or failing device is 503 (see ``appliance.web.errors``), and so is no biometric key."""
    try:
        return take()
    except ConfigError as exc:
        # Without the key nothing can be captured on this kiosk, as if the device were missing.
        return kiosk_error_response(exc, DEVICE_UNAVAILABLE)


@router.post("/api/captures/photo", status_code=201)
def capture_photo(request: Request, officer: Authenticated, config: ConfigDep, store: StoreDep,
                  devices: DevicesDep) -> Any:
    """Take a face photo now; stored encrypted until linked to a crossing. 503 if no camera.

    ``quality.hints`` say in the officer's language what a retake would improve (``quality.reasons``
    are the same as codes, with their English text); with a face model pack, ``quality.face`` says
    whether the photo passes the quality gates, and a failed gate's reason is among the hints."""
    return _hints_translated(_capture(lambda: biometrics.capture_photo(store, config, devices, officer)), request)


def _hints_translated(result: Any, request: Request) -> Any:
    # The photo step shows the hints as they come: rendered here from their codes, in the
    # language of the officer's session cookie.
    quality = result.get("quality") if isinstance(result, dict) else None
    if not quality or "reasons" not in quality:
        return result
    translate = i18n.translator(i18n.choose(request.cookies.get(LANGUAGE_COOKIE)))
    quality["hints"] = [reasons.render(translate, item) for item in quality["reasons"]]
    return result


@router.post("/api/captures/fingerprint", status_code=201)
def capture_fingerprint(request: Request, officer: Authenticated, config: ConfigDep, store: StoreDep,
                        devices: DevicesDep, body: CaptureBody | None = None) -> Any:
    """Wait for a finger and store its template encrypted. 503 if no module or no finger.

    ``quality.hints`` are the module's notes in the officer's language (``quality.reasons`` as codes)."""
    timeout = body.timeout if body is not None else None
    return _hints_translated(_capture(lambda: biometrics.capture_fingerprint(store, config, devices, officer,
                                                                             timeout)), request)
