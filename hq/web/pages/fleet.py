"""The Fleet page: every kiosk, problems first, filtered by post and state."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hq.fleet import fleet_rows, problems_first
from hq.web.deps import ConfigDep, DbDep, Viewer
from hq.web.render import render

router = APIRouter(include_in_schema=False)
STATES = ("online", "silent", "offline", "never seen", "unknown")


@router.get("/")
def fleet(request: Request, session: Viewer, db: DbDep, config: ConfigDep, post: str = "", state: str = "") -> Response:
    rows = problems_first(fleet_rows(db, config.hq.offline_after_s))
    posts = sorted({row["post_id"] for row in rows})
    shown = [row for row in rows if (not post or row["post_id"] == post) and (not state or row["state"] == state)]
    counts = {name: sum(1 for row in rows if row["state"] == name) for name in STATES}
    return render(request, "fleet.html", session, rows=shown, posts=posts, states=STATES, post=post, state=state,
                  counts=counts, total=len(rows))
