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


def reanchor(crossings: Iterable[dict[str, Any]], drift_ppm: float = DRIFT_PPM) -> list[Reanchored]:
    """The untrusted crossings of one kiosk that a later trusted crossing of the same boot re-anchors, by seq.

    ``crossings`` are the crossings' JSON as HQ holds them (any order). Crossings sent
    before kiosks recorded the boot reference (no ``boot_id``) are left out."""
    ordered = sorted((c for c in crossings if _usable(c)), key=lambda c: c["seq"])
    result: list[Reanchored] = []
    anchor: dict[str, dict[str, Any]] = {}  # boot id -> the nearest later trusted crossing
    for crossing in reversed(ordered):
        boot = crossing["boot_id"]
        if crossing.get("time_source") not in (None, UNTRUSTED) and crossing.get("time_uncertainty_s") is not None:
            anchor[boot] = crossing
            continue
        later = anchor.get(boot)
        if later is None:
            continue
        gap = float(later["boot_s"]) - float(crossing["boot_s"])
        if gap < 0:
            continue  # a boot clock never runs backwards: not the same boot after all
        at = clock.parse_iso(later["recorded_at"]) - timedelta(seconds=gap)
        result.append(Reanchored(
            seq=crossing["seq"], id=crossing["id"], recorded_at=crossing["recorded_at"], reanchored_at=clock.iso(at),
            uncertainty_s=round(float(later["time_uncertainty_s"]) + gap * drift_ppm * 1e-6, 3),
            anchored_by=later["seq"]))
    return sorted(result, key=lambda item: item.seq)


# --- at HQ: the times beside the crossings ---------------------------------------------------

TABLES = (
    """CREATE TABLE IF NOT EXISTS crossing_times (
        post_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, seq BIGINT NOT NULL, id TEXT NOT NULL,
        boot_id TEXT NOT NULL, boot_s DOUBLE PRECISION NOT NULL, time_source TEXT,
        time_uncertainty_s DOUBLE PRECISION, recorded_at TEXT NOT NULL,
        reanchored_at TEXT, reanchored_uncertainty_s DOUBLE PRECISION, anchored_by BIGINT,
        PRIMARY KEY (post_id, kiosk_id, seq))""",
    "CREATE INDEX IF NOT EXISTS crossing_times_by_boot ON crossing_times(post_id, kiosk_id, boot_id)",
)
_FIELDS = ("seq", "id", "boot_id", "boot_s", "time_source", "time_uncertainty_s", "recorded_at")


def note(db: HQDatabase, post_id: str, kiosk_id: str, crossings: Iterable[dict[str, Any]],
         drift_ppm: float = DRIFT_PPM) -> int:
    """Keep the time fields of ``crossings`` (records as the kiosk sent them; a resend changes nothing) and
    re-anchor every boot they belong to. Returns how many crossings of those boots are re-anchored now."""
    db.ensure(TABLES)
    usable = [c for c in crossings if _usable(c)]
    if not usable:
        return 0
    with db.transaction():
        for crossing in usable:
            db.run("INSERT INTO crossing_times(post_id, kiosk_id, seq, id, boot_id, boot_s, time_source,"
                   " time_uncertainty_s, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                   " ON CONFLICT (post_id, kiosk_id, seq) DO NOTHING",
                   (post_id, kiosk_id, *(crossing.get(key) for key in _FIELDS)))
    return sum(_apply_boot(db, post_id, kiosk_id, boot, drift_ppm)
               for boot in sorted({c["boot_id"] for c in usable}))


def _apply_boot(db: HQDatabase, post_id: str, kiosk_id: str, boot: str, drift_ppm: float) -> int:
    # A boot whose every crossing had a trusted time has nothing to re-anchor: say so in one indexed
    # read, not by loading and re-parsing all its crossings on each batch (O(n^2) over a backlog).
    if not db.query("SELECT 1 FROM crossing_times WHERE post_id = ? AND kiosk_id = ? AND boot_id = ?"
                    " AND (time_source IS NULL OR time_source = ? OR time_uncertainty_s IS NULL) LIMIT 1",
                    (post_id, kiosk_id, boot, UNTRUSTED)):
        return 0
    rows = db.query(f"SELECT {', '.join(_FIELDS)} FROM crossing_times WHERE post_id = ? AND kiosk_id = ?"
                    " AND boot_id = ?", (post_id, kiosk_id, boot))
    fixed = reanchor([dict(zip(_FIELDS, row)) for row in rows], drift_ppm)
    with db.transaction():
        for item in fixed:
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
    clauses, params = ["reanchored_at IS NOT NULL"], []
    for column, value in (("post_id", post_id), ("kiosk_id", kiosk_id), ("id", crossing_id)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    rows = db.query("SELECT id, reanchored_at, reanchored_uncertainty_s, anchored_by FROM crossing_times"
                    f" WHERE {' AND '.join(clauses)}", params)
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
    for (post, kiosk), crossings in sorted(by_kiosk.items()):
        untrusted = sum(1 for c in crossings if c.get("time_source") == UNTRUSTED)
        reanchored = note(db, post, kiosk, crossings, drift_ppm)
        summary.append({"post_id": post, "kiosk_id": kiosk, "crossings": len(crossings), "untrusted": untrusted,
                        "reanchored": reanchored, "as_sent": untrusted - reanchored})
    return summary
