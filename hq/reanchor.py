"""Re-anchoring: the true times of a run of crossings a kiosk recorded under an untrusted clock.

A kiosk with no trusted time since boot records its system clock as it is (``time_source``
"system", ``time_uncertainty_s`` null). Every crossing also carries its boot id and
boot-clock seconds (``boot_id``, ``boot_s``; a clock that never steps). The next crossing
of the same boot with a trusted time (NTP, RTC, GPS, HQ, a supervisor) fixes the boot
clock to real time, so each earlier untrusted one is that time less the boot-clock seconds
between them. A run with no trusted crossing after it in its boot stays as it was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterable

from appliance.domain import clock

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


def _usable(crossing: dict[str, Any]) -> bool:
    return isinstance(crossing.get("boot_id"), str) and bool(crossing["boot_id"]) \
        and isinstance(crossing.get("boot_s"), (int, float))


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
