"""The durable outbox: what must reach HQ, written in the same transaction as the record itself.

A row stays until HQ's receipt for it arrives (the uplink owns that part); writing it in
the crossing's own transaction means there is no moment where a crossing is committed
but not queued, whatever the power does. Each row has a priority (protocol.py) so that
alerts overtake a backlog of days and photos wait for everything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from appliance.domain import clock
from appliance.storage.store import Store
from appliance.uplink.protocol import PRIORITY_OF_KIND, TOPIC_OF_KIND


@dataclass(frozen=True)
class Row:
    seq: int
    kind: str
    ref_id: str
    payload_json: str  # as stored: canonical JSON (sorted keys, UTF-8)
    created_at: str
    priority: int
    progress: int

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_json)

    @property
    def size(self) -> int:
        return len(self.payload_json)

    @property
    def topic_leaf(self) -> str:
        return TOPIC_OF_KIND[self.kind]

    def item(self) -> dict[str, Any]:
        """The row as one item of a batch message.

        The record travels as the JSON text it was stored as: draining a backlog of days
        then costs no decoding and re-encoding per record on the board, and the batch's
        zstd frame shrinks the text as well as it would a CBOR map.
        """
        return {"seq": self.seq, "kind": self.kind, "id": self.ref_id, "created_at": self.created_at,
                "data": self.payload_json}


def enqueue(store: Store, kind: str, ref_id: str, payload: dict[str, Any]) -> int:
    """Queue one message; call inside ``store.transaction()``. Returns the outbox seq.

    Raises KeyError for a kind the protocol does not know, so nothing unsendable is queued.
    """
    priority = PRIORITY_OF_KIND[kind]
    cursor = store.conn.execute(
        "INSERT INTO outbox(kind, ref_id, payload, created_at, priority) VALUES (?, ?, ?, ?, ?)",
        (kind, ref_id, json.dumps(payload, ensure_ascii=False, sort_keys=True), clock.iso(clock.utcnow()),
         priority),
    )
    assert cursor.lastrowid is not None  # sqlite3 sets it after every successful INSERT
    return cursor.lastrowid


def next_rows(store: Store, priority: int, after_seq: int, limit: int) -> list[Row]:
    """Rows of one priority with seq > ``after_seq``, oldest first."""
    with store.lock:
        rows = store.conn.execute(
            "SELECT seq, kind, ref_id, payload, created_at, priority, progress FROM outbox"
            " WHERE priority = ? AND seq > ? ORDER BY seq LIMIT ?",
            (priority, after_seq, limit),
        ).fetchall()
    return [Row(*row) for row in rows]


def priorities(store: Store) -> list[int]:
    """The priorities that have rows waiting, most urgent first."""
    with store.lock:
        return [p for (p,) in store.conn.execute("SELECT DISTINCT priority FROM outbox ORDER BY priority")]


def acknowledge(store: Store, receipted: Iterable[tuple[int, str]]) -> int:
    """Drop the rows HQ has receipted, as (seq, ref_id) pairs; call inside ``store.transaction()``.

    Returns how many went. Both must match: a receipt naming a seq with another id (a
    confused or hostile HQ) deletes nothing.
    """
    pairs = [(int(seq), str(ref_id)) for seq, ref_id in receipted]
    before = store.conn.total_changes
    store.conn.executemany("DELETE FROM outbox WHERE seq = ? AND ref_id = ?", pairs)
    return store.conn.total_changes - before


def set_progress(store: Store, seq: int, ref_id: str, progress: int) -> None:
    """Remember how many bytes of a capture HQ has confirmed, so a resend resumes there.

    Call inside ``store.transaction()``.
    """
    store.conn.execute("UPDATE outbox SET progress = max(progress, ?) WHERE seq = ? AND ref_id = ?",
                       (progress, seq, ref_id))


def depth(store: Store, kind: str | None = None) -> int:
    """How many messages wait for HQ's receipt (of one kind, or all)."""
    with store.lock:
        if kind is None:
            return store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        return store.conn.execute("SELECT count(*) FROM outbox WHERE kind = ?", (kind,)).fetchone()[0]


def oldest_created_at(store: Store, kind: str | None = None) -> str | None:
    with store.lock:
        if kind is None:
            row = store.conn.execute("SELECT min(created_at) FROM outbox").fetchone()
        else:
            row = store.conn.execute("SELECT min(created_at) FROM outbox WHERE kind = ?", (kind,)).fetchone()
    return row[0]
