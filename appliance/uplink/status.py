"""The uplink's state as other processes see it: connected or not, last receipt, last error.

The running uplink writes a few keys to ``uplink_state``; ``kiosk uplink status`` and the
touchscreen read them from the same database. ``connected`` is only believed while the
uplink's heartbeat is fresh, so a killed service never leaves the kiosk claiming a link.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from appliance.domain import clock
from appliance.storage.store import Store
from appliance.uplink import outbox

# The uplink rewrites its heartbeat at least this often while it runs.
HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=6 * HEARTBEAT_S)


def write(store: Store, **values: Any) -> None:
    """Set state keys (values stored as text; None stored as empty)."""
    with store.transaction():
        upsert(store, **values)


def upsert(store: Store, **values: Any) -> None:
    """``write`` for a caller already inside ``store.transaction()``."""
    now = clock.iso(clock.utcnow())
    store.conn.executemany(
        "INSERT INTO uplink_state(key, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [(key, "" if value is None else str(value), now) for key, value in values.items()],
    )


def read(store: Store) -> dict[str, tuple[str, str]]:
    """key -> (value, updated_at)."""
    with store.lock:
        rows = store.conn.execute("SELECT key, value, updated_at FROM uplink_state").fetchall()
    return {key: (value, updated_at) for key, value, updated_at in rows}


def snapshot(store: Store) -> dict[str, Any]:
    """What `kiosk uplink status --json` prints and the touchscreen's status bar shows."""
    state = read(store)

    def value(key: str) -> str | None:
        return state[key][0] or None if key in state else None

    heartbeat = state.get("heartbeat")
    alive = heartbeat is not None and clock.utcnow() - clock.parse_iso(heartbeat[1]) < STALE_AFTER
    return {
        "connected": bool(alive and value("connected") == "1"),
        "running": bool(alive),
        "pending": outbox.depth(store, "crossing"),
        "queued": outbox.depth(store),
        "oldest_pending_at": outbox.oldest_created_at(store, "crossing"),
        "last_receipt_at": value("last_receipt_at"),
        "last_connected_at": value("connected_at"),
        "last_error": value("last_error"),
        "broker": value("broker"),
        "protocol": value("protocol"),
        "last_list_applied": value("last_list_applied"),
        "last_list_error": value("last_list_error"),
    }
