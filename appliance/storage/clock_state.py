"""The clock's persisted state: the last time the kiosk saw, and the anchor its trusted time is carried from.

Both are small JSON values in ``clock_state``. The anchor is a trusted time (from NTP, an
RTC, GPS, HQ's signed receipt or a supervisor) tied to the boot reference (boot id and
CLOCK_BOOTTIME seconds): it holds only for the boot it was taken in, because the boot
clock restarts from zero. Kept in the store, so a CLI command stamps a crossing the same
way the service does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from appliance.storage import audit
from appliance.storage.store import Store

ANCHOR, LAST_SEEN = "anchor", "last_seen"


@dataclass(frozen=True)
class BootPoint:
    """A wall-clock time (ISO UTC) at a point of one boot's boot clock."""

    utc: str
    boot_id: str
    boot_s: float


@dataclass(frozen=True)
class Anchor(BootPoint):
    source: str
    uncertainty_s: float


def _get(store: Store, key: str) -> dict[str, Any] | None:
    with store.lock:
        row = store.conn.execute("SELECT value FROM clock_state WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


def _put(store: Store, key: str, value: dict[str, Any]) -> None:
    """Call inside a transaction."""
    store.conn.execute("INSERT INTO clock_state(key, value) VALUES(?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, json.dumps(value)))


def anchor(store: Store, boot_id: str) -> Anchor | None:
    """The anchor taken during boot ``boot_id``, or None (none yet, or taken in an earlier boot)."""
    value = _get(store, ANCHOR)
    if value is None or value.get("boot_id") != boot_id:
        return None
    return Anchor(**value)


def save_anchor(store: Store, new: Anchor, actor: str, audited: bool) -> None:
    """Replace the anchor; with ``audited`` an audit entry ``time.anchor`` says where the time came from."""
    with store.transaction():
        _put(store, ANCHOR, asdict(new))
        if audited:
            audit.append(store, actor, "time.anchor", new.source,
                         {"utc": new.utc, "uncertainty_s": new.uncertainty_s, "boot_id": new.boot_id})


def last_seen(store: Store) -> BootPoint | None:
    value = _get(store, LAST_SEEN)
    return BootPoint(**value) if value is not None else None


def save_last_seen(store: Store, point: BootPoint, jump: dict[str, Any] | None = None) -> None:
    """Keep the last time seen; a ``jump`` found on the way is audited (``time.jump``) in the same transaction."""
    with store.transaction():
        _put(store, LAST_SEEN, asdict(point))
        if jump is not None:
            audit.append(store, "kiosk", "time.jump", jump["direction"], jump)
