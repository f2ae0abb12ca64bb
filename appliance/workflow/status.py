"""The read side the screens and the API show: the uplink's state, the lists in force, the battery's history,
the data partition against its storage budget."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from appliance.config import Config
from appliance.domain import clock
from appliance.lists.status import list_status
from appliance.storage import battery_history
from appliance.storage.store import Store
from appliance.uplink import status as uplink_status
from appliance.workflow import storage_budget, timekeeping


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


def storage(store: Store, config: Config) -> dict[str, Any]:
    """The data partition's fill against [storage]'s budget: ``level`` ok, warn, thin, full (or unknown), ``percent``."""
    return storage_budget.level(store, config)


def time_status(store: Store, config: Config) -> dict[str, Any]:
    """The time a crossing would get now: ``trusted`` (a trusted source since boot), ``source``, ``uncertainty_s``."""
    return timekeeping.status(store, config)
