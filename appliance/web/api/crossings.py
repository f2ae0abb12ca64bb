"""Crossings over the API: record one (screened first), read, list a day's, and a supervisor's outcome.

Reading crossings (names, document numbers, captures' links) is for the roles that process
travellers; a technician gets 403 ``Forbidden`` and reads counts from ``/api/stats/daily``
and queue depths from ``/api/uplink`` instead.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from appliance.domain import clock
from appliance.storage.officers import require_role
from appliance.web.deps import Authenticated, ConfigDep, DevicesDep, StoreDep
from appliance.web.models import CrossingBody, OutcomeBody
from appliance.workflow import crossings, drafts

log = logging.getLogger(__name__)

router = APIRouter(tags=["crossings"])


@router.post("/api/crossings", status_code=201)
def record_crossing(body: CrossingBody, officer: Authenticated, config: ConfigDep, store: StoreDep,
                    devices: DevicesDep) -> dict[str, Any]:
    """Screen and record a crossing; the answer comes only after it is durably stored."""
    request = crossings.CrossingRequest(
        direction=body.direction, mrz=body.mrz, document=body.document, decision=body.decision, note=body.note,
        capture_ids=tuple(body.capture_ids), unavailable=body.unavailable,
        face_embedding=tuple(body.face_embedding) if body.face_embedding is not None else None,
        request_id=body.request_id, purpose=body.purpose, visa_number=body.visa_number, visa_type=body.visa_type,
    )
    recorded = crossings.record(store, config, officer, request)
    # Recorded: the officer's crossing in progress (appliance.workflow.drafts) is done.
    drafts.discard(store, officer.id)
    indicators = getattr(devices, "indicators", None)
    if recorded.crossing.screening.hits and indicators is not None:
        try:
            indicators.watchlist_hit()
        except Exception:
            # The crossing is recorded; a buzzer fault must not turn that into an error.
            log.exception("watchlist hit indicators failed")
    return recorded.to_dict()


@router.get("/api/crossings")
def list_crossings(
    officer: Authenticated,
    config: ConfigDep,
    store: StoreDep,
    day: Annotated[date | None, Query(alias="date", description="Post-local day, YYYY-MM-DD")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """A post-local day's crossings (or every day's), newest first; 403 for a technician."""
    require_role(officer, "officer", "supervisor")
    since = until = None
    if day is not None:
        since, until = clock.day_bounds(day, config.kiosk.timezone)
    items = crossings.list_crossings(store, since=since, until=until, limit=limit, offset=offset)
    return {"crossings": [item.to_dict() for item in items], "count": len(items)}


@router.get("/api/crossings/{crossing_id}")
def get_crossing(crossing_id: str, officer: Authenticated, store: StoreDep) -> dict[str, Any]:
    """One crossing with its traveller's data; 403 for a technician (before the id is looked up)."""
    require_role(officer, "officer", "supervisor")
    return crossings.get(store, crossing_id).to_dict()


@router.post("/api/crossings/{crossing_id}/outcome")
def resolve_crossing(crossing_id: str, body: OutcomeBody, officer: Authenticated, config: ConfigDep,
                     store: StoreDep) -> dict[str, Any]:
    """A supervisor records the outcome of a referred crossing (not one they recorded, under four eyes)."""
    return crossings.resolve(store, officer, crossing_id, body.outcome, body.note, reason=body.reason,
                             four_eyes=config.security.four_eyes).to_dict()


@router.get("/api/referrals")
def open_referrals(officer: Authenticated, config: ConfigDep, store: StoreDep,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Referred crossings of any day still waiting for a supervisor's outcome, oldest first; 403 for a technician."""
    require_role(officer, "officer", "supervisor")
    items = crossings.open_referrals(store, limit=limit, training=config.kiosk.training)
    return {"referrals": [item.to_dict() for item in items], "count": len(items)}
