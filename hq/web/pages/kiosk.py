"""One kiosk: health history charts over 24 h / 7 d / 30 d, its log, recent crossings, and commands with their answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from appliance.domain import clock
from appliance.errors import NotFound, UplinkError
from hq import history, records, users
from hq.fleet import fleet_rows
from hq.ingest import send_command
from hq.web import charts
from hq.web.deps import Admin, ConfigDep, CsrfField, DbDep, Viewer, checked_csrf
from hq.web.render import render, translate

router = APIRouter(include_in_schema=False)
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
COMMANDS = ("health", "rebirth")


def _kiosk_row(db, config, post_id: str, kiosk_id: str) -> dict:
    for row in fleet_rows(db, config.hq.offline_after_s):
        if (row["post_id"], row["kiosk_id"]) == (post_id, kiosk_id):
            return row
    raise NotFound(f"no kiosk {post_id}/{kiosk_id} is enrolled")


@router.get("/kiosks/{post_id}/{kiosk_id}")
def kiosk(request: Request, session: Viewer, db: DbDep, config: ConfigDep, post_id: str, kiosk_id: str,
          range: str = "24h", note: str = "") -> Response:
    _ = translate(request)
    row = _kiosk_row(db, config, post_id, kiosk_id)
    span = range if range in RANGES else "24h"
    until = clock.utcnow()
    since = until - RANGES[span]
    samples = history.series(db, post_id, kiosk_id, since)
    none = _("No readings in this period.")

    def points(column: str) -> list[tuple[str, float]]:
        return [(s["at"], s[column]) for s in samples if s[column] is not None]

    figures = [
        charts.time_chart(_("Battery (%)"), points("battery"), since, until, "%", none),
        charts.time_chart(_("Solar input (W)"), points("solar"), since, until, "W", none),
        charts.time_chart(_("CPU temperature (°C)"), points("temperature"), since, until, "°C", none),
        charts.time_chart(_("Outbox depth"), points("outbox"), since, until, "", none),
        charts.uplink_band(_("Uplink"), history.uplink_spans(db, post_id, kiosk_id, since, until), since, until,
                           _("up"), _("down")),
    ]
    log = history.log(db, post_id, kiosk_id, since)
    shutdowns = [{"at": e["created_at"], "kind": "power.shutdown", "detail": e["data"]} for e in db.events("power.shutdown")
                 if (e["post_id"], e["kiosk_id"]) == (post_id, kiosk_id) and e["created_at"] >= clock.iso(since)]
    alarms = [{"at": row["health_at"] or row["last_seen"], "kind": "audit_alarm", "detail": {"": row["audit_alarm"]}}
              ] if row["audit_alarm"] else []
    log = sorted(log + shutdowns + alarms, key=lambda line: line["at"] or "", reverse=True)
    crossings = records.search(db, records.Search(post_id=post_id, limit=20)) if session.user.can("analyst") else []
    crossings = [c for c in crossings if c["kiosk_id"] == kiosk_id]
    commands = [line for line in users.audit_log(db, 200, "kiosk.command")
                if (line["detail"].get("post_id"), line["detail"].get("kiosk_id")) == (post_id, kiosk_id)][:10]
    return render(request, "kiosk.html", session, row=row, figures=figures, ranges=list(RANGES), span=span, log=log,
                  crossings=crossings, commands=commands, command_names=COMMANDS, note=note)


@router.post("/kiosks/{post_id}/{kiosk_id}/command")
def command(request: Request, session: Admin, db: DbDep, config: ConfigDep, post_id: str, kiosk_id: str,
            csrf: CsrfField, name: Annotated[str, Form()]) -> Response:
    checked_csrf(session, csrf)
    _kiosk_row(db, config, post_id, kiosk_id)
    if name not in COMMANDS:
        raise NotFound(f"no command {name!r}; the console sends {', '.join(COMMANDS)}")
    try:
        send_command(config, post_id, kiosk_id, name)
        outcome = "sent"
    except UplinkError as exc:
        outcome = f"failed: {exc}"
    users.audit(db, session.user.name, "kiosk.command", post_id=post_id, kiosk_id=kiosk_id, command=name,
                outcome=outcome)
    return RedirectResponse(f"/kiosks/{post_id}/{kiosk_id}?note={'sent' if outcome == 'sent' else 'failed'}",
                            status_code=303)
