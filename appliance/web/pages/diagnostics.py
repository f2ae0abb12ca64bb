"""The technician's diagnostics screen: versions, devices, uplink, battery history, lists, and the self-test on demand."""

from __future__ import annotations

import logging
import platform
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance import __version__
from appliance.config import Config
from appliance.errors import KioskError
from appliance.storage.store import Store
from appliance.web import charts
from appliance.web.deps import ConfigDep, DevicesDep, PageOfficer, StoreDep
from appliance.web.pages.render import power_status, render, translate
from appliance.web.pages.setup import enrolment
from appliance.workflow import selftest, status

log = logging.getLogger(__name__)

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
    return {
        "versions": versions,
        "devices": _device_status(devices),
        "uplink": uplink,
        "power": power_status(request),
        "power_chart": charts.power_chart(_("Battery over the last 24 hours"), history) if history else None,
        "power_recent": history[-5:],
        "lists": status.lists(store),
        "selftest": selftest_report,
    }
