"""Today's crossings at this post, searchable by name, document number or nationality, a few per page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from appliance.domain import clock
from appliance.web.deps import ConfigDep, PageOfficer, StoreDep
from appliance.web.pages.render import personal_data_refused, render
from appliance.workflow import crossings

router = APIRouter(include_in_schema=False)

HISTORY_PAGE_SIZE = 5


@router.get("/history")
def history(request: Request, officer: PageOfficer, config: ConfigDep, store: StoreDep, q: str = "",
            page: Annotated[int, Query(ge=0, le=10_000)] = 0) -> Response:
    refused = personal_data_refused(request, officer)
    if refused is not None:
        return refused
    since, until = clock.day_bounds(clock.local_today(config.kiosk.timezone), config.kiosk.timezone)
    items = crossings.list_crossings(store, since=since, until=until, limit=1000)
    needle = " ".join(q.upper().split())
    if needle:
        items = [item for item in items if needle in " ".join(
            filter(None, (item.document.surname, item.document.given_names, item.document.document_number,
                          item.document.nationality)))]
    pages = max(1, -(-len(items) // HISTORY_PAGE_SIZE))
    page = min(page, pages - 1)
    shown = items[page * HISTORY_PAGE_SIZE:(page + 1) * HISTORY_PAGE_SIZE]
    return render(request, "history.html", officer, items=[item.to_dict() for item in shown], total=len(items), q=q,
                  page=page, pages=pages)
