"""``GET /api/uplink``: the uplink's state and queue depths, for a technician's tools and the power-cut bench."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from appliance.web.deps import Authenticated, StoreDep
from appliance.workflow import status

router = APIRouter(tags=["uplink"])


@router.get("/api/uplink")
def uplink_status(officer: Authenticated, store: StoreDep) -> dict[str, Any]:
    """What ``kiosk uplink status --json`` prints: connected, crossings pending a receipt, last receipt, last error."""
    return status.uplink(store)
