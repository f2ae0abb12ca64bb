"""The Alerts page: watchlist hits from every post, live (server-sent events), acknowledged by analysts (audited)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, AsyncIterator

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from hq import alerts
from hq.web.deps import Analyst, CsrfField, DbDep, Viewer, checked_csrf
from hq.web.render import TEMPLATES, render, translate, language
from hq.web.render import DECISION_TEXT, DIRECTION_TEXT, when
from hq.web.i18n import translator

router = APIRouter(include_in_schema=False)
POLL_S = 1.0


@router.get("/alerts")
def alert_page(request: Request, session: Viewer, db: DbDep, open_only: bool = False) -> Response:
    rows = alerts.recent(db, 200, unacknowledged=open_only)
    return render(request, "alerts.html", session, alerts=rows, cursor=alerts.latest_received(db), open_only=open_only)


def alert_row(request: Request, session, alert: dict) -> str:
    """One alert's table row, as the page shows it: for the live feed to insert."""
    lang = language(request)
    return TEMPLATES.get_template("alert_row.html").render(
        _=translator(lang), session=session, alert=alert, when=when, DECISION_TEXT=DECISION_TEXT,
        DIRECTION_TEXT=DIRECTION_TEXT)


@router.get("/alerts/stream")
async def stream(request: Request, session: Viewer, db: DbDep, after: str = "") -> Response:
    """``text/event-stream``: an ``alert`` event (the row's HTML) for each alert HQ receives after ``after``."""

    async def events() -> AsyncIterator[str]:
        cursor = after or await asyncio.to_thread(alerts.latest_received, db)
        yield "retry: 3000\n\n"
        while not await request.is_disconnected():
            found = await asyncio.to_thread(alerts.recent, db, 50, cursor)
            for alert in reversed(found):
                payload = json.dumps({"id": alert["id"], "html": alert_row(request, session, alert)})
                yield f"event: alert\nid: {alert['received_at']}\ndata: {payload}\n\n"
            if found:
                cursor = found[0]["received_at"]
            else:
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_S)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.post("/alerts/{post_id}/{kiosk_id}/{alert_id}/acknowledge")
def acknowledge(request: Request, session: Analyst, db: DbDep, post_id: str, kiosk_id: str, alert_id: str,
                csrf: CsrfField, note: Annotated[str, Form()] = "") -> Response:
    checked_csrf(session, csrf)
    alerts.acknowledge(db, post_id, kiosk_id, alert_id, session.user.name, note)
    return RedirectResponse("/alerts", status_code=303)
