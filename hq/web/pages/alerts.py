"""The Alerts page: watchlist hits from every post, live (server-sent events), acknowledged by analysts (audited)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, AsyncIterator

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from hq import alerts
from hq.web.deps import Analyst, CsrfField, DbDep, Viewer, checked_csrf
from hq.web.i18n import translator
from hq.web.render import DECISION_TEXT, DIRECTION_TEXT, TEMPLATES, language, render, when

router = APIRouter(include_in_schema=False)
POLL_S = 1.0
WATCHED = 100  # the newest alerts whose changes (an outcome, an acknowledgement) the live feed also brings


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
    """``text/event-stream``: an ``alert`` event (the row's HTML) for each alert HQ receives after ``after``,
    and again for a recent alert whose supervisor's outcome or acknowledgement changed."""

    def signature(alert: dict) -> tuple:
        return alert["outcome"], alert["decision"], alert["acknowledged_by"]

    async def events() -> AsyncIterator[str]:
        cursor = after or await asyncio.to_thread(alerts.latest_received, db)
        # What the page was drawn with: alerts up to the cursor, as they are now.
        known = {alert["id"]: signature(alert) for alert in await asyncio.to_thread(alerts.recent, db, WATCHED)
                 if alert["received_at"] <= cursor}
        yield "retry: 3000\n\n"
        while not await request.is_disconnected():
            changed = [alert for alert in await asyncio.to_thread(alerts.recent, db, WATCHED)
                       if known.get(alert["id"]) != signature(alert)]
            for alert in reversed(changed):
                known[alert["id"]] = signature(alert)
                payload = json.dumps({"id": alert["id"], "html": alert_row(request, session, alert)})
                yield f"event: alert\ndata: {payload}\n\n"
            if not changed:
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
