"""The technician's diagnostics screen: versions, devices, uplink, battery history, lists, and the self-test on demand."""

from __future__ import annotations

import logging
import platform
import re
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance import __version__
from appliance.config import Config
from appliance.errors import KioskError
from appliance.storage.store import Store
from appliance.web import charts
from appliance.web.deps import ConfigDep, DevicesDep, PageOfficer, StoreDep, get_config
from appliance.web.i18n import N_
from appliance.web.pages.render import POWER_LEVEL_TEXT, Translate, local_time, power_status, render, translate
from appliance.web.pages.setup import enrolment
from appliance.workflow import selftest, status

log = logging.getLogger(__name__)

# What a technician reads instead of the raw keys.
DEVICE_TEXT = {
    "mrz_reader": N_("MRZ reader"), "camera": N_("Camera"), "fingerprint": N_("Fingerprint reader"),
    "indicators": N_("Lights and buzzer"), "power": N_("Power"), "face_models": N_("Face models"),
    "sd_card": N_("SD card"),
}
VALUE_TEXT = {
    "kiosk": N_("Kiosk software"), "python": N_("Python"), "platform": N_("Platform"), "schema": N_("Database schema"),
    "connected": N_("Connected to HQ"), "running": N_("Uplink process running"), "pending": N_("Crossings to send"),
    "queued": N_("Messages queued"), "oldest_pending_at": N_("Oldest waiting since"),
    "last_receipt_at": N_("Last receipt from HQ"), "last_connected_at": N_("Last connected"),
    "last_error": N_("Last error"), "broker": N_("Broker"), "protocol": N_("Protocol"),
    "last_list_applied": N_("Last list applied"), "last_list_error": N_("Last list error"),
    "percent": N_("Battery"), "charging": N_("Charging"), "level": N_("Power policy level"), "message": N_("Message"),
    "error": N_("Error"),
}


def readable(request: Request, rows: dict[str, Any], _: Translate) -> list[tuple[str, str]]:
    """(label, value) rows for a technician: named keys, yes/no, local times with the date, units."""
    zone = ZoneInfo(get_config(request).kiosk.timezone)
    out = []
    for key, value in rows.items():
        if value is None or value == "":
            text = "—"
        elif isinstance(value, bool):
            text = _("yes") if value else _("no")
        elif key == "percent" and isinstance(value, (int, float)):
            text = f"{value:.0f} %"
        elif key == "level":
            text = _(POWER_LEVEL_TEXT.get(str(value), str(value)))
        elif isinstance(value, str) and ISO_UTC.fullmatch(value):
            text = local_time(zone, value, with_date=True)
        else:
            text = str(value)
        out.append((_(VALUE_TEXT[key]) if key in VALUE_TEXT else key.replace("_", " "), text))
    return out


ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)")

router = APIRouter(include_in_schema=False)


@router.get("/diagnostics")
def diagnostics(request: Request, officer: PageOfficer, config: ConfigDep, store: StoreDep,
                devices: DevicesDep) -> Response:
    return render(request, "diagnostics.html", officer, enrolment=enrolment(request, config),
                  **_diagnostics(request, store, devices, selftest_report=None))


@router.post("/diagnostics/selftest")
def diagnostics_selftest(request: Request, officer: PageOfficer, config: ConfigDep, store: StoreDep,
                         devices: DevicesDep) -> Response:
    report = _diagnostics(request, store, devices, selftest_report=_run_selftest(config))
    return render(request, "diagnostics.html", officer, enrolment=enrolment(request, config), **report)


def _run_selftest(config: Config) -> dict[str, Any]:
    try:
        return {"available": True, "results": selftest.run(config), "error": None}
    except KioskError as exc:
        return {"available": True, "results": [], "error": str(exc)}


def _device_status(devices: Any) -> dict[str, Any]:
    device_status: dict[str, Any] = (
        {kind: status.to_dict() for kind, status in devices.status().items()} if devices is not None else {})
    for kind in ("fingerprint", "indicators"):
        # Optional devices: absent (None) until a back-end is configured.
        if devices is not None and kind not in device_status:
            device = getattr(devices, kind, None)
            if device is None:
                device_status[kind] = None
            else:
                try:
                    device_status[kind] = device.status().to_dict()
                except Exception as exc:
                    device_status[kind] = {"kind": kind, "backend": "?", "ok": False, "detail": str(exc)}
    return device_status


def _diagnostics(request: Request, store: Store, devices: Any,
                 selftest_report: dict[str, Any] | None) -> dict[str, Any]:
    _ = translate(request)
    try:
        uplink = status.uplink(store)
    except Exception as exc:
        uplink = {"error": str(exc)}
    try:
        history = status.power_history(store, hours=24)
    except Exception as exc:  # diagnostics must show what it can
        log.warning("power history unavailable: %s", exc)
        history = []
    versions = {
        "kiosk": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "schema": str(store.schema_version),
    }
    power = power_status(request)
    return {
        "versions": readable(request, versions, _),
        "devices": _device_status(devices),
        "uplink": readable(request, uplink, _),
        "power": readable(request, power, _) if power is not None else None,
        "DEVICE_TEXT": DEVICE_TEXT,
        "power_chart": charts.power_chart(_("Battery over the last 24 hours"), history) if history else None,
        "power_recent": history[-5:],
        "lists": status.lists(store),
        "selftest": selftest_report,
    }
