"""``GET /api/stats/daily``: the post's daily statistics."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from appliance.domain import clock
from appliance.web.deps import Authenticated, ConfigDep, StoreDep
from appliance.workflow import stats

router = APIRouter(tags=["statistics"])


@router.get("/api/stats/daily")
def daily_stats(
    officer: Authenticated,
    config: ConfigDep,
    store: StoreDep,
    first: Annotated[date | None, Query(alias="from", description="First day (default: today)")] = None,
    last: Annotated[date | None, Query(alias="to", description="Last day (default: same as from)")] = None,
    training: bool = False,
) -> dict[str, Any]:
    first = first or clock.local_today(config.kiosk.timezone)
    return {
        "timezone": config.kiosk.timezone,
        "training": training,
        "days": stats.daily(store, first, last or first, config.kiosk.timezone, training=training),
    }
