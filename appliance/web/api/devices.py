"""The devices over the API: their status, and a document read on the MRZ reader."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from appliance.domain import mrz
from appliance.errors import DeviceError
from appliance.web.deps import Authenticated, DevicesDep

router = APIRouter(tags=["devices"])


@router.get("/api/devices")
def device_status(officer: Authenticated, devices: DevicesDep) -> dict[str, Any]:
    if devices is None:
        return {"devices": {}}
    return {"devices": {kind: status.to_dict() for kind, status in devices.status().items()}}


@router.post("/api/reader/read")
def read_document(officer: Authenticated, devices: DevicesDep,
                  timeout: Annotated[float, Query(ge=0, le=30)] = 5.0) -> dict[str, Any]:
    """Wait for a document on the MRZ reader and return its parsed MRZ (nothing is recorded). 503 if no reader."""
    reader = getattr(devices, "mrz_reader", None)
    if reader is None:
        raise DeviceError("this kiosk has no MRZ reader configured")
    text = reader.read(timeout)
    if text is None:
        return {"mrz": None, "parsed": None}
    return {"mrz": text, "parsed": mrz.parse(text).to_dict()}
