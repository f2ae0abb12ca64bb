"""``GET /api/health``: liveness for systemd, the browser and HQ."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from appliance import __version__
from appliance.domain import clock
from appliance.web.deps import ConfigDep

router = APIRouter(tags=["health"])


@router.get("/api/health")
def health(config: ConfigDep) -> dict[str, Any]:
    """Liveness for systemd, the browser and HQ; no authentication, no personal data."""
    return {
        "status": "ok",
        "version": __version__,
        "post_id": config.kiosk.post_id,
        "kiosk_id": config.kiosk.kiosk_id,
        "training": config.kiosk.training,
        "time": clock.iso(clock.utcnow()),
    }
