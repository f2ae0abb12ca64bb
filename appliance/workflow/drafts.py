"""Each officer's crossing in progress (a draft): kept through a reload, a browser Back or a new login.

A draft holds what the crossing screen had gathered before the record call: the direction,
the step, the document (MRZ or typed fields) and the ids of the captures taken, with the
reasons a capture is missing. The captures themselves stay where they are, encrypted in
``captures`` (``appliance.workflow.biometrics``); a draft only names them. One draft per
officer, readable only by that officer; it is dropped when the crossing is recorded or
cancelled, and ignored (and deleted) once older than ``security.draft_minutes``, which
is kept below the hour after which unlinked captures are purged.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from appliance.domain import clock
from appliance.errors import WorkflowError
from appliance.storage.officers import Officer, require_role
from appliance.storage.store import Store

MAX_BYTES = 16_000  # a document and a few capture ids: anything larger is not a draft


def save(store: Store, officer: Officer, body: dict[str, Any], now: datetime | None = None) -> None:
    """Keep ``body`` as the officer's crossing in progress, replacing any earlier one.

    Raises Forbidden for a technician, WorkflowError for a body too large to be a draft.
    Not a durable event (nothing was recorded yet), so it needs no audit entry.
    """
    require_role(officer, "officer", "supervisor")
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode()) > MAX_BYTES:
        raise WorkflowError(f"a crossing in progress holds at most {MAX_BYTES} bytes (got {len(text.encode())})")
    now = now or clock.utcnow()
    with store.transaction():
        store.conn.execute(
            "INSERT INTO drafts(officer_id, body, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (officer_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            (officer.id, text, clock.iso(now)))


def load(store: Store, officer: Officer, max_minutes: float, now: datetime | None = None) -> dict[str, Any] | None:
    """The officer's crossing in progress with its ``updated_at``, or None (none, or older than ``max_minutes``: then deleted)."""
    now = now or clock.utcnow()
    with store.lock:
        row = store.conn.execute("SELECT body, updated_at FROM drafts WHERE officer_id = ?", (officer.id,)).fetchone()
    if row is None:
        return None
    if now - clock.parse_iso(row[1]) > timedelta(minutes=max_minutes):
        discard(store, officer.id)
        return None
    return {**json.loads(row[0]), "updated_at": row[1]}


def discard(store: Store, officer_id: str) -> None:
    """Drop the officer's crossing in progress (recorded, or cancelled by the officer)."""
    with store.transaction():
        store.conn.execute("DELETE FROM drafts WHERE officer_id = ?", (officer_id,))
