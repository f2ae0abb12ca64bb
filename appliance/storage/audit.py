"""The hash-chained audit log: every officer action, import and decision, tamper-evident.

Each row carries the hash of the row before it, and its own hash covers its content and
that link. Changing a row breaks its own hash; deleting one leaves a gap in ``seq`` and a
broken link; cutting rows off the end is caught by the head (the last seq, kept in the
``counters`` table as ``audit_head``), written in the same transaction. Someone who can
rewrite the whole file can rebuild the chain: that is why the head is also reported to
HQ, where a local rewrite cannot reach.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from appliance.domain import clock
from appliance.storage.store import Store

GENESIS_HASH = "0" * 64


def _row_hash(seq: int, at: str, actor: str, action: str, subject: str, details: str, prev_hash: str) -> str:
    canonical = json.dumps([seq, at, actor, action, subject, details, prev_hash], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(store: Store, actor: str, action: str, subject: str = "", details: dict[str, Any] | None = None) -> int:
    """Add one entry; call inside ``store.transaction()`` so it commits with what it records.

    Returns the entry's seq.
    """
    last = store.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    at = clock.iso(clock.utcnow())
    details_text = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = _row_hash(seq, at, actor, action, subject, details_text, prev_hash)
    store.conn.execute(
        "INSERT INTO audit(seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
        (seq, at, actor, action, subject, details_text, prev_hash, digest),
    )
    store.conn.execute(
        "INSERT INTO counters(name, value) VALUES('audit_head', ?) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        (seq,),
    )
    return seq


def record(store: Store, actor: str, action: str, subject: str = "", details: dict[str, Any] | None = None) -> int:
    """``append`` in a transaction of its own, for actions that change nothing else."""
    with store.transaction():
        return append(store, actor, action, subject, details)


def head(store: Store) -> dict[str, Any]:
    """The chain's newest entry, ``{"seq", "hash"}`` (seq 0 before the first): what HQ keeps.

    Reported in every health message, so HQ holds a trail of heads that a rewrite of the
    kiosk's own file cannot change.
    """
    with store.lock:
        row = store.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return {"seq": row[0], "hash": row[1]} if row else {"seq": 0, "hash": GENESIS_HASH}


@dataclass(frozen=True)
class Problem:
    seq: int
    message: str

    def __str__(self) -> str:
        return f"audit row {self.seq}: {self.message}"


def verify(store: Store) -> tuple[int, list[Problem]]:
    """Walk the chain; returns (rows checked, problems). No problems means the log is intact."""
    problems: list[Problem] = []
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    with store.lock:
        rows = store.conn.execute(
            "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit ORDER BY seq"
        ).fetchall()
        head = store.conn.execute("SELECT value FROM counters WHERE name = 'audit_head'").fetchone()
    for seq, at, actor, action, subject, details, stored_prev, stored_hash in rows:
        checked += 1
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
            problems.append(Problem(expected_seq, f"missing (rows {missing} were deleted)"))
        elif stored_prev != prev_hash:
            problems.append(Problem(seq, "link to the previous row is broken (previous row changed)"))
        if _row_hash(seq, at, actor, action, subject, details, stored_prev) != stored_hash:
            problems.append(Problem(seq, f"content was changed after it was written ({action} by {actor})"))
        expected_seq, prev_hash = seq + 1, stored_hash
    head_seq = head[0] if head else 0
    if head_seq >= expected_seq:
        missing = f"{expected_seq}" if head_seq == expected_seq else f"{expected_seq}-{head_seq}"
        problems.append(Problem(expected_seq, f"missing (rows {missing} at the end were deleted)"))
    return checked, problems
