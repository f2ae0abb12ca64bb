"""The kiosk's devices: the back-end registry and ``open_devices``, which opens each one by config name.

Each device kind has a seam (an abstract class in ``mrz_reader.py``, ``camera.py``,
``power.py``, ``fingerprint.py``; ``indicators.py`` is its own seam) and one module per
back-end. Back-ends are registered here by dotted path
and imported only when configured, so a Pi-only back-end (picamera2, a serial gauge)
never has to be importable on a laptop or in CI. Adding a back-end: write its module,
add it to ``BACKENDS`` and add its name to the matching ``Literal`` in
``appliance.config.HardwareSection``. The back-end name "none" (fingerprint, indicators)
means the part is not fitted: its attribute on ``Devices`` is None.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.errors import DeviceError

if TYPE_CHECKING:
    from appliance.config import HardwareSection
    from appliance.hw.camera import Camera
    from appliance.hw.fingerprint import FingerprintScanner
    from appliance.hw.indicators import Indicators
    from appliance.hw.mrz_reader import MRZReader
    from appliance.hw.power import PowerSource

log = logging.getLogger(__name__)

# kind -> back-end name (as written in [hardware]) -> "module:Class".
BACKENDS: dict[str, dict[str, str]] = {
    "mrz_reader": {
        "simulated": "appliance.hw.mrz_reader_simulated:SimulatedMRZReader",
        "serial": "appliance.hw.mrz_reader_serial:SerialMRZReader",
    },
    "camera": {
        "simulated": "appliance.hw.camera_simulated:SimulatedCamera",
        "v4l2": "appliance.hw.camera_v4l2:V4L2Camera",
        "picamera2": "appliance.hw.camera_picamera2:Picamera2Camera",
    },
    "power": {
        "simulated": "appliance.hw.power_simulated:SimulatedPowerSource",
        "sysfs": "appliance.hw.power_sysfs:SysfsPowerSource",
        "ina219": "appliance.hw.power_ina219:INA219PowerSource",
        "gpio": "appliance.hw.power_gpio:GpioPowerSource",
        "modbus": "appliance.hw.power_modbus:ModbusPowerSource",
    },
    "fingerprint": {
        "simulated": "appliance.hw.fingerprint_simulated:SimulatedFingerprintScanner",
        "r30x": "appliance.hw.fingerprint_r30x:R30xScanner",
    },
    "indicators": {
        "simulated": "appliance.hw.indicators:SimulatedIndicators",
        "gpio": "appliance.hw.indicators:Indicators",
    },
}

# The order devices are opened in, and closed in reverse.
KINDS = ("mrz_reader", "camera", "power", "fingerprint", "indicators")
# Kinds a kiosk may lack: configured as "none", they are None on Devices.
OPTIONAL_KINDS = ("fingerprint", "indicators")
NOT_FITTED = "none"


@dataclass
class Devices:
    """The opened devices of one kiosk."""

    mrz_reader: MRZReader
    camera: Camera
    power: PowerSource
    fingerprint: FingerprintScanner | None = None
    indicators: Indicators | None = None

    def status(self) -> dict[str, dict[str, Any]]:
        """kind -> {kind, backend, ok, detail} for every fitted device; never raises.

        A device whose own ``status()`` raises is reported as not ok with the error,
        because the status screen is where a technician goes when something is broken.
        """
        report: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            device = getattr(self, kind)
            if device is None:
                continue
            try:
                report[kind] = device.status()
            except Exception as exc:
                log.exception("status() of the %s device raised", kind)
                report[kind] = {
                    "kind": kind,
                    "backend": getattr(device, "backend", type(device).__name__),
                    "ok": False,
                    "detail": f"status failed: {exc}",
                }
        return report

    def close(self) -> None:
        """Close every device, even if one fails; then raises the first failure (DeviceError or other)."""
        _close_all([getattr(self, kind) for kind in reversed(KINDS) if getattr(self, kind) is not None])


def backend_class(kind: str, name: str) -> type:
    """The class registered for back-end ``name`` of device ``kind``, imported on demand.

    Raises DeviceError naming the kind and the known back-ends if ``name`` is unknown,
    or naming the module if the back-end cannot be imported (e.g. a Pi-only package
    missing on this machine).
    """
    known = BACKENDS.get(kind)
    if known is None:
        raise DeviceError(f"unknown device kind {kind!r}; known kinds: {', '.join(sorted(BACKENDS))}")
    target = known.get(name)
    if target is None:
        raise DeviceError(
            f"unknown {kind} back-end {name!r}; known {kind} back-ends: {', '.join(sorted(known))}"
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DeviceError(f"{kind} back-end {name!r} cannot be loaded ({module_name}): {exc}") from exc
    return getattr(module, class_name)


def open_devices(hardware: HardwareSection) -> Devices:
    """Open every device named in the ``[hardware]`` config section (a "none" part stays None).

    Raises DeviceError if a back-end name is unknown, cannot be loaded, or its device
    cannot be opened; devices already opened are closed again first.
    """
    # Resolve every name before opening anything, so a typo never leaves a port open.
    classes = {kind: backend_class(kind, getattr(hardware, kind)) for kind in KINDS
               if getattr(hardware, kind) != NOT_FITTED}
    opened: dict[str, Any] = {}
    try:
        for kind, cls in classes.items():
            opened[kind] = cls.from_config(hardware)
            log.debug("opened %s back-end %r", kind, cls.backend)
        if hardware.power_signals == "gpio":
            from appliance.hw.power_gpio import GpioPowerSource
            from appliance.hw.power_signals import SignalledPowerSource

            # The gauge is already in ``opened``: if the pins cannot be claimed, it is closed below.
            opened["power"] = SignalledPowerSource(opened["power"], GpioPowerSource.from_config(hardware))
    except BaseException:
        # A half-opened set would keep a serial port or the camera busy until exit,
        # and the next start-up attempt would find the device taken.
        try:
            _close_all(list(reversed(opened.values())))
        except Exception:
            log.exception("closing devices after a failed open also failed")
        raise
    return Devices(**opened)


def _close_all(devices: list[Any]) -> None:
    first_error: BaseException | None = None
    for device in devices:
        try:
            device.close()
        except Exception as exc:
            log.error("closing the %s device failed: %s", getattr(device, "kind", device), exc)
            if first_error is None:
                first_error = exc
    if first_error is not None:
        raise first_error
