"""Fleet health telemetry: one dict of what HQ needs to know about this kiosk right now.

Every figure is read where it lives (power back-end, /sys, the outbox, the lists); a
sensor that fails gives ``None`` for its fields and a line in ``errors`` rather than no
telemetry at all, because a half-broken kiosk is exactly the one HQ must see.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.config import Config
from appliance.domain import clock
from appliance.lists.status import list_status
from appliance.storage import audit, battery_history, budget
from appliance.storage.store import Store
from appliance.uplink import outbox, status

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
# Process start, for uptime of the service (the board's uptime is /proc/uptime).
_STARTED = time.monotonic()


def collect(store: Store, config: Config, devices: Any = None, power_policy: Any = None) -> dict[str, Any]:
    """The health message body; never raises."""
    errors: list[str] = []
    report: dict[str, Any] = {
        "at": clock.iso(clock.utcnow()),
        "version": __version__,
        "training": config.kiosk.training,
    }
    report.update(_power(devices, power_policy, errors))
    report["cpu_temp_c"] = _cpu_temperature(errors)
    try:
        report["load"] = [round(x, 2) for x in os.getloadavg()]
    except OSError as exc:
        report["load"] = None
        errors.append(f"load: {exc}")
    try:
        usage = shutil.disk_usage(config.kiosk.data_dir)
        report["disk_free_bytes"] = usage.free
        report["disk_free_percent"] = round(100 * usage.free / usage.total, 1)
    except OSError as exc:
        report["disk_free_bytes"] = report["disk_free_percent"] = None
        errors.append(f"disk: {exc}")
    try:
        # Against [storage]'s budget: HQ sees "warn" as early as the officer does.
        report["storage"] = budget.measure(config, store).to_dict()
    except Exception as exc:
        report["storage"] = None
        errors.append(f"storage budget: {exc}")
    try:
        oldest = outbox.oldest_created_at(store, "crossing")
        report["outbox_depth"] = outbox.depth(store)
        report["pending_crossings"] = outbox.depth(store, "crossing")
        report["oldest_unsent_age_s"] = (
            None if oldest is None else int((clock.utcnow() - clock.parse_iso(oldest)).total_seconds())
        )
        snapshot = status.snapshot(store)
        report["last_receipt_at"] = snapshot["last_receipt_at"]
        # The last list bundle applied and the last one refused (with why): HQ logs a refusal.
        report["last_list_applied"] = snapshot["last_list_applied"]
        report["last_list_error"] = snapshot["last_list_error"]
        report["lists"] = list_versions(store)
        report["audit_head"] = audit.head(store)
        report["battery_24h"] = battery_summary(store)
    except Exception as exc:  # the store is the one thing that should not fail; say so if it does
        errors.append(f"store: {exc}")
    report["uptime_s"] = int(time.monotonic() - _STARTED)
    report["board_uptime_s"] = _board_uptime()
    report["errors"] = errors
    return report


def list_versions(store: Store) -> dict[str, dict[str, Any]]:
    """list name -> {version, age_s}: the part of the lists HQ tracks per kiosk."""
    return {entry["name"]: {"version": entry["version"], "age_s": entry["age_seconds"]} for entry in list_status(store)}


def battery_summary(store: Store, hours: int = 24) -> dict[str, Any] | None:
    """The power policy's battery history, thinned for a thin link: min, max and one point an hour.

    None when no history was kept (power policy off, or a fresh kiosk).
    """
    rows = [row for row in battery_history.read(store, since=clock.iso(clock.utcnow() - timedelta(hours=hours)), limit=100_000)
            if row["percent"] is not None]
    if not rows:
        return None
    hourly: dict[str, list[Any]] = {}
    for row in rows:  # the last reading of each hour
        hourly[row["at"][:13]] = [row["at"], round(row["percent"], 1), row["charging"]]
    percents = [row["percent"] for row in rows]
    return {"min": round(min(percents), 1), "max": round(max(percents), 1), "points": list(hourly.values())}


def _power(devices: Any, power_policy: Any, errors: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"battery_percent": None, "charging": None, "on_mains": None,
                              "solar_w": None, "battery_v": None, "power_level": None}
    source = getattr(devices, "power", None)
    if source is not None:
        try:
            reading = source.read()
            fields.update(battery_percent=reading.battery_percent, charging=reading.charging,
                          on_mains=reading.on_mains, solar_w=reading.solar_watts, battery_v=reading.voltage)
        except Exception as exc:
            errors.append(f"power: {exc}")
    if power_policy is not None:
        try:
            fields["power_level"] = power_policy.snapshot().get("level")
        except Exception as exc:
            errors.append(f"power policy: {exc}")
    return fields


def _cpu_temperature(errors: list[str]) -> float | None:
    try:
        return round(int(THERMAL_ZONE.read_text().strip()) / 1000, 1)
    except FileNotFoundError:
        return None  # no thermal zone (a VM or a laptop container): not an error
    except (OSError, ValueError) as exc:
        errors.append(f"cpu temperature: {exc}")
        return None


def _board_uptime() -> int | None:
    try:
        return int(float(Path("/proc/uptime").read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return None
