"""Crossings across posts: search, one crossing's record with its captures, and the migration statistics.

The crossings table keeps the columns every query filters on (post, kiosk, time,
direction, decision, outcome) and the record as the kiosk sent it; names, documents,
nationality, sex and birth date are read from that record, after SQL has narrowed the
rows by post, time and decision. Training crossings (a training centre's) are never
counted or listed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from appliance.domain import clock
from appliance.domain.dates import parse_partial_date
from appliance.domain.names import fold
from appliance.errors import NotFound, WorkflowError
from hq import reanchor
from hq.db import HQDatabase

MAX_RESULTS = 500
MAX_DAYS = 3 * 366
PERIODS = ("day", "week", "month")
DIMENSIONS = ("post", "nationality", "sex", "age_band", "decision", "purpose")
# The bands of IOM/MIDAS-style border statistics, the kiosk's own (its statistics screen).
AGE_BANDS = ((17, "0-17"), (29, "18-29"), (44, "30-44"), (59, "45-59"), (200, "60+"))


@dataclass(frozen=True)
class Search:
    """What the Crossings page asks; every field optional. Dates are UTC days, inclusive."""

    text: str = ""  # a name (folded, any part) or a document number
    nationality: str = ""
    post_id: str = ""
    decision: str = ""
    direction: str = ""
    first: date | None = None
    last: date | None = None
    limit: int = field(default=100)

    def checked(self) -> Search:
        """Raises WorkflowError for a reversed range, a range too long, or a bad limit."""
        if self.first and self.last and self.last < self.first:
            raise WorkflowError(f"date range is reversed: {self.first} is after {self.last}")
        if self.first and self.last and (self.last - self.first).days > MAX_DAYS:
            raise WorkflowError(f"date range is longer than {MAX_DAYS} days")
        if not 1 <= self.limit <= MAX_RESULTS:
            raise WorkflowError(f"limit must be 1-{MAX_RESULTS}")
        if self.decision and self.decision not in ("cleared", "referred", "refused"):
            raise WorkflowError(f"decision {self.decision!r} is not cleared, referred or refused")
        if self.direction and self.direction not in ("entry", "exit"):
            raise WorkflowError(f"direction {self.direction!r} is not entry or exit")
        return self


def _bounds(first: date | None, last: date | None) -> tuple[str | None, str | None]:
    since = clock.iso(datetime.combine(first, time(), timezone.utc)) if first else None
    until = clock.iso(datetime.combine(last + timedelta(days=1), time(), timezone.utc)) if last else None
    return since, until


def _rows(db: HQDatabase, post_id: str = "", first: date | None = None, last: date | None = None,
          decision: str = "", direction: str = "") -> list[tuple[str, str, str, dict[str, Any]]]:
    clauses, params = [], []
    since, until = _bounds(first, last)
    for clause, value in (("post_id = ?", post_id), ("recorded_at >= ?", since), ("recorded_at < ?", until),
                          ("COALESCE(outcome, decision) = ?", decision), ("direction = ?", direction)):
        if value:
            clauses.append(clause)
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.query(f"SELECT id, outcome, received_at, data FROM crossings{where} ORDER BY recorded_at DESC", params)
    out = []
    for crossing_id, outcome, received_at, data in rows:
        record = json.loads(data)
        if record.get("training"):
            continue
        if outcome:
            record["outcome"] = outcome
        out.append((crossing_id, outcome or record.get("decision") or "", received_at, record))
    return out


def search(db: HQDatabase, query: Search) -> list[dict[str, Any]]:
    """Matching crossings, newest first, at most ``query.limit``; raises WorkflowError for a bad query."""
    query = query.checked()
    # With a digit it is a document number (matched whole); else a name, folded as the kiosk folds names.
    document = query.text.strip().upper().replace(" ", "") if any(ch.isdigit() for ch in query.text) else ""
    needle = fold(query.text).strip() if query.text and not document else ""
    found = []
    for crossing_id, decision, received_at, record in _rows(db, query.post_id, query.first, query.last,
                                                            query.decision, query.direction):
        if query.nationality and (record.get("nationality") or "") != query.nationality.upper():
            continue
        if document and document != (record.get("document_number") or ""):
            continue
        if needle and needle not in fold(f"{record.get('surname') or ''} {record.get('given_names') or ''}"):
            continue
        found.append({**_summary(record), "id": crossing_id, "decision": decision, "received_at": received_at})
        if len(found) >= query.limit:
            break
    return found


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("post_id", "kiosk_id", "seq", "recorded_at", "direction", "surname", "given_names", "nationality",
            "sex", "birth_date", "document_number", "issuing_state", "officer_id")
    summary = {key: record.get(key) for key in keys}
    summary["hits"] = len((record.get("screening") or {}).get("hits") or [])
    return summary


def crossing(db: HQDatabase, crossing_id: str) -> dict[str, Any]:
    """One crossing's full record, its captures listed (without their bytes). Raises NotFound."""
    rows = db.query("SELECT data, outcome, received_at FROM crossings WHERE id = ?", (crossing_id,))
    if not rows:
        raise NotFound(f"HQ holds no crossing {crossing_id}")
    data, outcome, received_at = rows[0]
    record = json.loads(data)
    if outcome:
        record["outcome"] = outcome
    record["received_at"] = received_at
    captures = db.query("SELECT id, kind, format, total, complete FROM captures WHERE crossing_id = ? ORDER BY id",
                        (crossing_id,))
    record["hq_captures"] = [{"id": i, "kind": k, "format": f, "bytes": t, "complete": bool(c)}
                             for i, k, f, t, c in captures]
    record.update(reanchor.times(db, crossing_id=crossing_id).get(crossing_id, {}))
    return record


def capture(db: HQDatabase, crossing_id: str, capture_id: str) -> tuple[str, bytes]:
    """(format, bytes) of a complete capture of the crossing. Raises NotFound."""
    rows = db.query("SELECT format, data FROM captures WHERE id = ? AND crossing_id = ? AND complete = 1",
                    (capture_id, crossing_id))
    if not rows:
        raise NotFound(f"no complete capture {capture_id} for crossing {crossing_id}")
    return str(rows[0][0] or ""), bytes(rows[0][1])


# -- Statistics -----------------------------------------------------------------------------

def age_band(birth_date: str | None, on: date) -> str:
    """The band of the age on ``on``; a partial date is taken mid-span, as the kiosk does; 'unknown' when unread."""
    try:
        year, month, day = parse_partial_date(birth_date or "")
    except ValueError:
        return "unknown"
    month, day = (7, 1) if month is None else (month, day or 15)
    age = on.year - year - ((on.month, on.day) < (month, day))
    return next((label for top, label in AGE_BANDS if 0 <= age <= top), "unknown")


def period_of(day: date, period: str) -> str:
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.strftime("%Y-%m") if period == "month" else day.isoformat()


def statistics(db: HQDatabase, first: date, last: date, period: str = "day", post_id: str = "") -> dict[str, Any]:
    """Entries and exits from ``first`` to ``last`` (UTC days, inclusive): per period and post, and per
    post, nationality, sex, age band and decision. Each table is a list of rows
    {key, entry, exit, total}, biggest first (periods in order). Raises WorkflowError for a
    bad period or range."""
    if period not in PERIODS:
        raise WorkflowError(f"period {period!r} is not one of {', '.join(PERIODS)}")
    Search(first=first, last=last).checked()
    by_period: dict[tuple[str, str], Counter[str]] = {}
    tables: dict[str, dict[str, Counter[str]]] = {dimension: {} for dimension in DIMENSIONS}
    for _, decision, _, record in _rows(db, post_id, first, last):
        direction = record.get("direction") or "entry"
        day = clock.parse_iso(record["recorded_at"]).date()
        keys = {"post": record.get("post_id") or "", "nationality": record.get("nationality") or "unknown",
                "sex": record.get("sex") or "X", "age_band": age_band(record.get("birth_date"), day),
                "decision": decision or "unknown",
                # Absent from crossings sent before the kiosk asked it, and where the post skips the question.
                "purpose": record.get("purpose") or "unknown"}
        by_period.setdefault((period_of(day, period), keys["post"]), Counter())[direction] += 1
        for dimension, key in keys.items():
            tables[dimension].setdefault(key, Counter())[direction] += 1

    def rows(counts: dict[str, Counter[str]]) -> list[dict[str, Any]]:
        made: list[dict[str, Any]] = [{"key": key, "entry": c["entry"], "exit": c["exit"], "total": c["entry"] + c["exit"]}
                for key, c in counts.items()]
        return sorted(made, key=lambda row: (-row["total"], row["key"]))

    periods: list[dict[str, Any]] = [{"period": p, "post": post, "entry": c["entry"], "exit": c["exit"], "total": c["entry"] + c["exit"]}
               for (p, post), c in sorted(by_period.items())]
    total = sum(int(row["total"]) for row in periods)
    return {"first": first.isoformat(), "last": last.isoformat(), "period": period, "post_id": post_id,
            "total": total, "periods": periods, **{dimension: rows(tables[dimension]) for dimension in DIMENSIONS}}
