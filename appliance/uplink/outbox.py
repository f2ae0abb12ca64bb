"""The durable outbox: what must reach HQ, written in the same transaction as the record itself.

A row stays until HQ's receipt for it arrives (the uplink owns that part); writing it in
the crossing's own transaction means there is no moment where a crossing is committed
but not queued, whatever the power does.
"""

from __future__ import annotations

import json
from typing import Any

from .. import clock
from ..store import Store


def enqueue(store: Store, kind: str, ref_id: str, payload: dict[str, Any]) -> int:
    """Queue one message; call inside ``store.transaction()``. Returns the outbox seq."""
    cursor = store.conn.execute(
        "INSERT INTO outbox(kind, ref_id, payload, created_at) VALUES (?, ?, ?, ?)",
        (kind, ref_id, json.dumps(payload, ensure_ascii=False, sort_keys=True), clock.iso(clock.utcnow())),
    )
    return cursor.lastrowid


def depth(store: Store) -> int:
    """How many messages wait for HQ's receipt."""
    with store.lock:
        return store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]


def oldest_created_at(store: Store) -> str | None:
    with store.lock:
        row = store.conn.execute("SELECT min(created_at) FROM outbox").fetchone()
    return row[0]
