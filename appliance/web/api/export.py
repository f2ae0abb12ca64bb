"""``GET /api/exports/crossings``: a supervisor's export of crossings with personal data, audited."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from appliance.domain import clock
from appliance.web.deps import Authenticated, ConfigDep, StoreDep
from appliance.workflow import export

router = APIRouter(tags=["crossings"])


@router.get("/api/exports/crossings")
def export_crossings(
    officer: Authenticated,
    config: ConfigDep,
    store: StoreDep,
    first: Annotated[date | None, Query(alias="from", description="First post-local day (default: today)")] = None,
    last: Annotated[date | None, Query(alias="to", description="Last day (default: same as from)")] = None,
    fmt: Annotated[Literal["csv", "json"], Query(alias="format")] = "json",
) -> Any:
    """Crossings of the days asked for, oldest first; supervisors only (403 otherwise); each export audited."""
    first = first or clock.local_today(config.kiosk.timezone)
    items = export.export_crossings(store, officer, first, last or first, config.kiosk.timezone, fmt)
    if fmt == "csv":
        name = f"crossings-{config.kiosk.post_id}-{config.kiosk.kiosk_id}-{first}-{last or first}.csv"
        return Response(export.to_csv(items), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
    return {"crossings": items, "count": len(items)}
