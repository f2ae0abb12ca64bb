"""The Crossings page (analysts and admins): search across posts, one crossing's record, its photos, exports."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance.domain import clock
from appliance.errors import WorkflowError
from hq import records, users
from hq.web import exports
from hq.web.deps import Analyst, DbDep
from hq.web.render import render

router = APIRouter(include_in_schema=False)
EXPORT_COLUMNS = ("recorded_at", "post_id", "kiosk_id", "direction", "decision", "surname", "given_names",
                  "nationality", "sex", "birth_date", "issuing_state", "document_number", "hits", "id")


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise WorkflowError(f"{name} {text!r} is not a date YYYY-MM-DD") from None


def _query(q: str, nationality: str, post: str, decision: str, direction: str, first: str, last: str,
           limit: int) -> records.Search:
    today = clock.utcnow().date()
    return records.Search(text=q.strip(), nationality=nationality.strip(), post_id=post.strip(), decision=decision,
                          direction=direction, first=_day(first, "from") or today - timedelta(days=30),
                          last=_day(last, "to") or today, limit=limit)


@router.get("/crossings")
def crossings(request: Request, session: Analyst, db: DbDep, q: str = "", nationality: str = "", post: str = "",
              decision: str = "", direction: str = "", first: str = "", last: str = "") -> Response:
    query = _query(q, nationality, post, decision, direction, first, last, 200)
    found = records.search(db, query)
    return render(request, "crossings.html", session, found=found, query=query,
                  export_query=str(request.url.query))


@router.get("/crossings/export.{fmt}")
def export(request: Request, session: Analyst, db: DbDep, fmt: str, q: str = "", nationality: str = "",
           post: str = "", decision: str = "", direction: str = "", first: str = "", last: str = "") -> Response:
    if fmt not in exports.FORMATS:
        raise WorkflowError(f"export format {fmt!r} is not csv or xlsx")
    query = _query(q, nationality, post, decision, direction, first, last, records.MAX_RESULTS)
    found = records.search(db, query)
    users.audit(db, session.user.name, "crossings.export", format=fmt, rows=len(found), query=str(request.url.query))
    return exports.download(fmt, "crossings", "crossings", EXPORT_COLUMNS,
                            [[row.get(column) for column in EXPORT_COLUMNS] for row in found])


@router.get("/crossings/{crossing_id}")
def crossing(request: Request, session: Analyst, db: DbDep, crossing_id: str) -> Response:
    record = records.crossing(db, crossing_id)
    users.audit(db, session.user.name, "crossing.view", crossing_id=crossing_id)
    return render(request, "crossing.html", session, record=record)


@router.get("/crossings/{crossing_id}/captures/{capture_id}")
def capture(session: Analyst, db: DbDep, crossing_id: str, capture_id: str) -> Response:
    fmt, data = records.capture(db, crossing_id, capture_id)
    users.audit(db, session.user.name, "capture.view", crossing_id=crossing_id, capture_id=capture_id)
    media = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png"}.get(fmt.lower(), "application/octet-stream")
    return Response(data, media_type=media, headers={"Cache-Control": "no-store"})
