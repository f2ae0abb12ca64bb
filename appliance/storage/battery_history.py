"""The battery history (table ``power_history``): one row per reading the power policy keeps, pruned by age."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from appliance.domain import clock
from appliance.storage.store import Store


def append(store: Store, *, at: datetime, percent: float | None, voltage: float | None, charging: bool | None,
           on_mains: bool | None, solar_watts: float | None, level: str, keep_days: float) -> None:
    """Add one reading and drop the rows older than ``keep_days``, in one transaction.

    Raises sqlite3.Error if the store cannot be written.
    """
    cutoff = clock.iso(clock.utcnow() - timedelta(days=keep_days))
    with store.transaction():
        store.conn.execute(
            "INSERT INTO power_history(at, percent, voltage, charging, on_mains, solar_watts, level)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (clock.iso(at), percent, voltage, _flag(charging), _flag(on_mains), solar_watts, level),
        )
        store.conn.execute("DELETE FROM power_history WHERE at < ?", (cutoff,))


def read(store: Store, since: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Battery history rows, oldest first, optionally from ISO time ``since``: at, percent, voltage,
    charging, on_mains, solar_watts, level."""
    with store.lock:
        rows = store.conn.execute(
            "SELECT at, percent, voltage, charging, on_mains, solar_watts, level FROM power_history"
            " WHERE at >= ? ORDER BY at LIMIT ?", (since or "", limit),
        ).fetchall()
    return [
        {"at": at, "percent": percent, "voltage": voltage, "charging": _unflag(charging),
         "on_mains": _unflag(on_mains), "solar_watts": solar, "level": level}
        for at, percent, voltage, charging, on_mains, solar, level in rows
    ]


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _unflag(value: int | None) -> bool | None:
    return None if value is None else bool(value)
