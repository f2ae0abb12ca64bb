"""Watchlist hits from every post: the alerts kiosks send ahead of their backlog, their outcome, HQ's acknowledgement.

An alert is the ``alert`` event ingest stored; the supervisor's outcome comes later with
the crossing (``crossing_outcome``), and the acknowledgement is HQ's own (who, when, a
note), written once and audited: a second acknowledgement is refused, not overwritten.
"""

from __future__ import annotations

import json
from typing import Any

from appliance.domain import clock
from appliance.errors import NotFound, WorkflowError
from hq import users
from hq.db import HQDatabase

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS hq_alert_acks (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, alert_id TEXT NOT NULL, by_user TEXT NOT NULL,
        at TEXT NOT NULL, note TEXT NOT NULL, PRIMARY KEY (post_id, kiosk_id, alert_id))""",
)
MAX_NOTE = 1000


def _alert(row: tuple) -> dict[str, Any]:
    post_id, kiosk_id, alert_id, created_at, data, received_at, outcome, decision, ack_by, ack_at, ack_note = row
    body = json.loads(data)
    hits = body.get("hits") or []
    return {
        "post_id": post_id, "kiosk_id": kiosk_id, "id": alert_id, "created_at": created_at,
        "received_at": received_at, "crossing_id": body.get("crossing_id") or alert_id,
        "recorded_at": body.get("recorded_at"), "direction": body.get("direction"),
        "decision": decision or body.get("decision"), "outcome": outcome,
        "surname": body.get("surname"), "document_number": body.get("document_number"),
        "hits": [{"list": h.get("list"), "kind": h.get("kind"), "score": h.get("score"),
                  "explanation": h.get("explanation")} for h in hits if isinstance(h, dict)],
        "acknowledged_by": ack_by, "acknowledged_at": ack_at, "ack_note": ack_note,
    }


_SELECT = ("SELECT e.post_id, e.kiosk_id, e.id, e.created_at, e.data, e.received_at, c.outcome, c.decision,"
           " a.by_user, a.at, a.note FROM events e"
           " LEFT JOIN crossings c ON c.id = e.id"
           " LEFT JOIN hq_alert_acks a ON a.post_id = e.post_id AND a.kiosk_id = e.kiosk_id AND a.alert_id = e.id"
           " WHERE e.kind = 'alert'")


def recent(db: HQDatabase, limit: int = 100, after: str | None = None, unacknowledged: bool = False
           ) -> list[dict[str, Any]]:
    """Alerts newest first; ``after``: only those HQ received after that time (the live feed's cursor)."""
    db.ensure(SCHEMA)
    clauses, params = [], []
    if after:
        clauses.append("e.received_at > ?")
        params.append(after)
    if unacknowledged:
        clauses.append("a.by_user IS NULL")
    where = "".join(f" AND {clause}" for clause in clauses)
    rows = db.query(f"{_SELECT}{where} ORDER BY e.received_at DESC, e.created_at DESC LIMIT ?", [*params, limit])
    return [_alert(row) for row in rows]


def latest_received(db: HQDatabase) -> str:
    """The cursor a live feed starts from: the newest alert's reception time ('' when none)."""
    rows = db.query("SELECT MAX(received_at) FROM events WHERE kind = 'alert'")
    return rows[0][0] or "" if rows else ""


def get(db: HQDatabase, post_id: str, kiosk_id: str, alert_id: str) -> dict[str, Any]:
    db.ensure(SCHEMA)
    rows = db.query(f"{_SELECT} AND e.post_id = ? AND e.kiosk_id = ? AND e.id = ?", (post_id, kiosk_id, alert_id))
    if not rows:
        raise NotFound(f"no alert {alert_id} from {post_id}/{kiosk_id}")
    return _alert(rows[0])


def acknowledge(db: HQDatabase, post_id: str, kiosk_id: str, alert_id: str, by: str, note: str = "") -> dict[str, Any]:
    """Record that ``by`` has seen the alert. Raises NotFound for no such alert, WorkflowError when already
    acknowledged (naming who did) or for a note over MAX_NOTE characters."""
    if len(note) > MAX_NOTE:
        raise WorkflowError(f"the note has {len(note)} characters; at most {MAX_NOTE}")
    alert = get(db, post_id, kiosk_id, alert_id)
    if alert["acknowledged_by"]:
        raise WorkflowError(f"alert {alert_id} was already acknowledged by {alert['acknowledged_by']} "
                            f"at {alert['acknowledged_at']}")
    with db.transaction():
        db.run("INSERT INTO hq_alert_acks(post_id, kiosk_id, alert_id, by_user, at, note) VALUES (?, ?, ?, ?, ?, ?)",
               (post_id, kiosk_id, alert_id, by, clock.iso(clock.utcnow()), note.strip()))
    users.audit(db, by, "alert.acknowledge", post_id=post_id, kiosk_id=kiosk_id, alert_id=alert_id, note=note.strip())
    return get(db, post_id, kiosk_id, alert_id)
