"""Biometric captures over the API: a face photo, a fingerprint; each stored encrypted until a crossing links it."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter

from appliance.errors import ConfigError
from appliance.web.deps import Authenticated, ConfigDep, DevicesDep, StoreDep
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
def capture_photo(officer: Authenticated, config: ConfigDep, store: StoreDep, devices: DevicesDep) -> Any:
    """Take a face photo now; stored encrypted until linked to a crossing. 503 if no camera."""
    return _capture(lambda: biometrics.capture_photo(store, config, devices, officer))


@router.post("/api/captures/fingerprint", status_code=201)
def capture_fingerprint(officer: Authenticated, config: ConfigDep, store: StoreDep, devices: DevicesDep,
                        body: CaptureBody | None = None) -> Any:
    """Wait for a finger and store its template encrypted. 503 if no module or no finger."""
    timeout = body.timeout if body is not None else None
    return _capture(lambda: biometrics.capture_fingerprint(store, config, devices, officer, timeout))
