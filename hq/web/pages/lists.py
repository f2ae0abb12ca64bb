"""The Lists page: versions published and pushed, which kiosk holds which version, kiosks behind."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hq.fleet import fleet_rows, list_matrix
from hq.web.deps import ConfigDep, DbDep, Viewer
from hq.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/lists")
def lists(request: Request, session: Viewer, db: DbDep, config: ConfigDep) -> Response:
    return render(request, "lists.html", session, matrix=list_matrix(db, fleet_rows(db, config.hq.offline_after_s)))
