"""Re-anchoring: the true times of a run of crossings a kiosk recorded under an untrusted clock.

A kiosk with no trusted time since boot records its system clock as it is (``time_source``
"system", ``time_uncertainty_s`` null). Every crossing also carries its boot id and
boot-clock seconds (``boot_id``, ``boot_s``; a clock that never steps). The next crossing
of the same boot with a trusted time (NTP, RTC, GPS, HQ, a supervisor) fixes the boot
clock to real time, so each earlier untrusted one is that time less the boot-clock seconds
between them. A run with no trusted crossing after it in its boot stays as it was sent.

HQ re-anchors as crossings arrive: every stored batch (MQTT or a USB stick) notes each
crossing's time fields in ``crossing_times`` and recomputes the boots it touched, so a run
sent on one day is fixed when its boot's trusted crossing arrives, even in a later batch.
The crossing itself is kept as the kiosk signed it; the re-anchored time sits beside it
(``reanchored_at``, ``reanchored_uncertainty_s``, ``anchored_by``). ``kiosk-hq reanchor``
recomputes the table from the crossings held (after an upgrade, or to check it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Iterable

from appliance.domain import clock
from hq.db import where

if TYPE_CHECKING:
    from hq.db import HQDatabase

UNTRUSTED = "system"
# The board's oscillator drift assumed over the gap (the kiosk's [time] drift_ppm default).
DRIFT_PPM = 50.0


@dataclass(frozen=True)
class Reanchored:
    seq: int
    id: str
    recorded_at: str  # as the kiosk sent it
    reanchored_at: str
    uncertainty_s: float
    anchored_by: int  # seq of the trusted crossing it was carried back from

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "id": self.id, "recorded_at": self.recorded_at, "reanchored_at": self.reanchored_at,
                "uncertainty_s": self.uncertainty_s, "anchored_by": self.anchored_by}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _usable(crossing: dict[str, Any]) -> bool:
    """Whether a crossing carries a boot reference and a time HQ can reckon with. A kiosk's record that
    does not (an older kiosk, or a damaged one) is simply not re-anchored: it never fails a batch."""
    if not (isinstance(crossing.get("boot_id"), str) and crossing["boot_id"] and _number(crossing.get("boot_s"))
            and isinstance(crossing.get("seq"), int) and isinstance(crossing.get("id"), str)):
        return False
    uncertainty = crossing.get("time_uncertainty_s")
    if uncertainty is not None and not (_number(uncertainty) and uncertainty >= 0):
        return False
    try:
        clock.parse_iso(str(crossing.get("recorded_at")))
    except ValueError:
        return False
    return True


def _trusted(crossing: dict[str, Any]) -> bool:
    return crossing.get("time_source") not in (None, UNTRUSTED) and crossing.get("time_uncertainty_s") is not None


def _carried_back(crossing: dict[str, Any], later: dict[str, Any], drift_ppm: float) -> Reanchored | None:
    """``crossing`` (untrusted) carried back from ``later`` (trusted, same boot), or None when the boot
    clock says it is not later after all."""
    gap = float(later["boot_s"]) - float(crossing["boot_s"])
    if gap < 0:
        return None  # a boot clock never runs backwards: not the same boot after all
    at = clock.parse_iso(later["recorded_at"]) - timedelta(seconds=gap)
    return Reanchored(seq=crossing["seq"], id=crossing["id"], recorded_at=crossing["recorded_at"],
                      reanchored_at=clock.iso(at),
                      uncertainty_s=round(float(later["time_uncertainty_s"]) + gap * drift_ppm * 1e-6, 3),
                      anchored_by=later["seq"])


def reanchor(crossings: Iterable[dict[str, Any]], drift_ppm: float = DRIFT_PPM) -> list[Reanchored]:
    """The untrusted crossings of one kiosk that a later trusted crossing of the same boot re-anchors, by seq.

    ``crossings`` are the crossings' JSON as HQ holds them (any order). Crossings sent
    before kiosks recorded the boot reference (no ``boot_id``) are left out."""
    ordered = sorted((c for c in crossings if _usable(c)), key=lambda c: c["seq"])
    result: list[Reanchored] = []
    anchor: dict[str, dict[str, Any]] = {}  # boot id -> the nearest later trusted crossing
    for crossing in reversed(ordered):
        if _trusted(crossing):
            anchor[crossing["boot_id"]] = crossing
            continue
        later = anchor.get(crossing["boot_id"])
        item = _carried_back(crossing, later, drift_ppm) if later is not None else None
        if item is not None:
            result.append(item)
    return sorted(result, key=lambda item: item.seq)


# --- at HQ: the times beside the crossings ---------------------------------------------------

TABLES = (
    """CREATE TABLE IF NOT EXISTS crossing_times (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, seq BIGINT NOT NULL, id TEXT NOT NULL,
        boot_id TEXT NOT NULL, boot_s DOUBLE PRECISION NOT NULL, time_source TEXT,
        time_uncertainty_s DOUBLE PRECISION, recorded_at TEXT NOT NULL, trusted INTEGER NOT NULL,
        reanchored_at TEXT, reanchored_uncertainty_s DOUBLE PRECISION, anchored_by BIGINT,
        PRIMARY KEY (post_id, kiosk_id, seq))""",
    # The trusted crossings of a boot, in kiosk order: each batch finds its anchors by index.
    "CREATE INDEX IF NOT EXISTS crossing_times_by_boot ON crossing_times(post_id, kiosk_id, boot_id, trusted, seq)",
)
_FIELDS = ("seq", "id", "boot_id", "boot_s", "time_source", "time_uncertainty_s", "recorded_at")
_SELECT = f"SELECT {', '.join(_FIELDS)} FROM crossing_times WHERE post_id = ? AND kiosk_id = ? AND boot_id = ?"


def note(db: HQDatabase, post_id: str, kiosk_id: str, crossings: Iterable[dict[str, Any]],
         drift_ppm: float = DRIFT_PPM) -> int:
    """Keep the time fields of ``crossings`` (records as the kiosk sent them) and re-anchor what they change:
    each new untrusted crossing from the next trusted one of its boot HQ holds, and each new trusted
    crossing's run of untrusted ones before it. A resend changes nothing. Every lookup is by index, so a
    batch costs the same however many crossings HQ holds. Returns how many crossings it re-anchored."""
    db.ensure(TABLES)
    usable = [c for c in crossings if _usable(c)]
    new: list[dict[str, Any]] = []
    with db.transaction():
        for crossing in usable:
            if db.run("INSERT INTO crossing_times(post_id, kiosk_id, seq, id, boot_id, boot_s, time_source,"
                      " time_uncertainty_s, recorded_at, trusted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                      " ON CONFLICT (post_id, kiosk_id, seq) DO NOTHING",
                      (post_id, kiosk_id, *(crossing.get(key) for key in _FIELDS), int(_trusted(crossing)))):
                new.append(crossing)
    fixed: dict[int, Reanchored] = {}
    key = (post_id, kiosk_id)
    for crossing in sorted(new, key=lambda c: c["seq"]):
        boot = crossing["boot_id"]
        if _trusted(crossing):
            # The untrusted run just before it in its boot, back to the previous trusted crossing.
            before = db.query("SELECT max(seq) FROM crossing_times WHERE post_id = ? AND kiosk_id = ?"
                              " AND boot_id = ? AND trusted = 1 AND seq < ?", (*key, boot, crossing["seq"]))
            since = before[0][0] if before and before[0][0] is not None else -(1 << 63)
            run = db.query(f"{_SELECT} AND trusted = 0 AND seq > ? AND seq < ?",
                           (*key, boot, since, crossing["seq"]))
            for row in run:
                item = _carried_back(dict(zip(_FIELDS, row)), crossing, drift_ppm)
                if item is not None:
                    fixed[item.seq] = item
        else:
            later = db.query(f"{_SELECT} AND trusted = 1 AND seq > ? ORDER BY seq LIMIT 1",
                             (*key, boot, crossing["seq"]))
            if later:
                item = _carried_back(crossing, dict(zip(_FIELDS, later[0])), drift_ppm)
                if item is not None:
                    fixed[item.seq] = item
    if fixed:
        with db.transaction():
            for item in fixed.values():
                db.run("UPDATE crossing_times SET reanchored_at = ?, reanchored_uncertainty_s = ?, anchored_by = ?"
                       " WHERE post_id = ? AND kiosk_id = ? AND seq = ?",
                       (item.reanchored_at, item.uncertainty_s, item.anchored_by, post_id, kiosk_id, item.seq))
    return len(fixed)


def note_batch(db: HQDatabase, post_id: str, kiosk_id: str, items: list[dict[str, Any]]) -> int:
    """``note`` for the crossings of one stored batch (ingest's checked items)."""
    return note(db, post_id, kiosk_id, (item["data"] for item in items if item["kind"] == "crossing"))


def times(db: HQDatabase, post_id: str | None = None, kiosk_id: str | None = None,
          crossing_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Crossing id -> its re-anchored time (``reanchored_at``, ``reanchored_uncertainty_s``, ``anchored_by``),
    for the crossings HQ re-anchored."""
    db.ensure(TABLES)
    clause, params = where("reanchored_at IS NOT NULL", post_id=post_id, kiosk_id=kiosk_id, id=crossing_id)
    rows = db.query(f"SELECT id, reanchored_at, reanchored_uncertainty_s, anchored_by FROM crossing_times{clause}",
                    params)
    return {crossing_id: {"reanchored_at": at, "reanchored_uncertainty_s": uncertainty, "anchored_by": by}
            for crossing_id, at, uncertainty, by in rows}


def with_times(db: HQDatabase, crossings: list[dict[str, Any]], post_id: str | None = None,
               kiosk_id: str | None = None) -> list[dict[str, Any]]:
    """``crossings`` (HQ's records) with each re-anchored one's time fields added."""
    found = times(db, post_id, kiosk_id)
    return [{**crossing, **found[crossing["id"]]} if crossing.get("id") in found else crossing
            for crossing in crossings]


def rebuild(db: HQDatabase, post_id: str | None = None, kiosk_id: str | None = None,
            drift_ppm: float = DRIFT_PPM) -> list[dict[str, Any]]:
    """Recompute the re-anchored times from the crossings held; per kiosk: how many crossings, how many were
    recorded under an untrusted clock, how many of those are re-anchored and how many stay as sent."""
    clauses, params = [], []
    for column, value in (("post_id", post_id), ("kiosk_id", kiosk_id)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    by_kiosk: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for post, kiosk, data in db.query(f"SELECT post_id, kiosk_id, data FROM crossings{where}", params):
        by_kiosk.setdefault((post, kiosk), []).append(json.loads(data))
    summary = []
    db.ensure(TABLES)
    for (post, kiosk), crossings in sorted(by_kiosk.items()):
        untrusted = sum(1 for c in crossings if c.get("time_source") == UNTRUSTED)
        with db.transaction():
            db.run("DELETE FROM crossing_times WHERE post_id = ? AND kiosk_id = ?", (post, kiosk))
        note(db, post, kiosk, crossings, drift_ppm)
        reanchored = db.query("SELECT count(*) FROM crossing_times WHERE post_id = ? AND kiosk_id = ?"
                              " AND reanchored_at IS NOT NULL", (post, kiosk))[0][0]
        summary.append({"post_id": post, "kiosk_id": kiosk, "crossings": len(crossings), "untrusted": untrusted,
                        "reanchored": reanchored, "as_sent": untrusted - reanchored})
    return summary
