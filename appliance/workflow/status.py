"""The read side the screens and the API show: the uplink's state, the lists in force, the battery's history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from appliance.domain import clock
from appliance.lists.status import list_status
from appliance.storage import battery_history
from appliance.storage.store import Store
from appliance.uplink import status as uplink_status


def lists(store: Store) -> list[dict[str, Any]]:
    """Every list in force with its version, age and staleness (see ``list_status``)."""
    return list_status(store)


def uplink(store: Store) -> dict[str, Any]:
    """The uplink's last known state and queue depths, as ``kiosk uplink status --json`` prints it."""
    return uplink_status.snapshot(store)


def power_history(store: Store, hours: float = 24) -> list[dict[str, Any]]:
    """The battery's recorded readings of the last ``hours``, oldest first."""
    since = clock.iso(clock.utcnow() - timedelta(hours=hours))
    return battery_history.read(store, since=since)
