"""Referrals waiting for a supervisor, of any day: the list a supervisor works through, oldest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from appliance.web.deps import ConfigDep, PageOfficer, StoreDep
from appliance.web.pages.render import personal_data_refused, render
from appliance.workflow import crossings

router = APIRouter(include_in_schema=False)

REFERRALS_PAGE_SIZE = 5
# More open referrals than this is a post that needs help, not a longer list.
REFERRALS_SHOWN = 200


@router.get("/referrals")
def referrals(request: Request, officer: PageOfficer, config: ConfigDep, store: StoreDep,
              page: Annotated[int, Query(ge=0, le=1000)] = 0) -> Response:
    refused = personal_data_refused(request, officer)
    if refused is not None:
        return refused
    items = crossings.open_referrals(store, limit=REFERRALS_SHOWN, training=config.kiosk.training)
    pages = max(1, -(-len(items) // REFERRALS_PAGE_SIZE))
    page = min(page, pages - 1)
    shown = items[page * REFERRALS_PAGE_SIZE:(page + 1) * REFERRALS_PAGE_SIZE]
    return render(request, "referrals.html", officer, items=[item.to_dict() for item in shown],
                  total=crossings.count_open_referrals(store, training=config.kiosk.training), page=page, pages=pages)
