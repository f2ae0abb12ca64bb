"""The kiosk's devices: the back-end registry and ``open_devices``, which opens each one by config name.

Each device kind has a seam (an abstract class in ``mrz_reader.py``, ``camera.py``,
``power.py``, ``fingerprint.py``; ``indicators.py`` is its own seam) and one module per
back-end. A back-end class carries everything known about it: its name (``backend``),
what it is attached to (``attached_to``) and what to check when it fails (``hint``), so
the self-test and the status screen ask the class. Back-ends are registered here by
dotted path and imported only when configured, so a Pi-only back-end never has to be
importable on a laptop or in CI. Adding one is docs/hardware.md, "Adding a back-end".
The back-end name "none" (fingerprint, indicators) means the part is not fitted: its
attribute on ``Devices`` is None.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.errors import DeviceError
from appliance.hw.device import Device, DeviceStatus, close_all
from appliance.hw.power import PowerSource
from appliance.hw.power_signals import SignalledPowerSource

if TYPE_CHECKING:
    from appliance.config import HardwareSection
    from appliance.hw.camera import Camera
    from appliance.hw.fingerprint import FingerprintScanner
    from appliance.hw.indicators import Indicators
    from appliance.hw.mrz_reader import MRZReader

log = logging.getLogger(__name__)

# kind -> back-end name (as written in [hardware]) -> "module:Class"; the kinds in the order
# devices are opened in, and closed in reverse.
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
        "simulated": "appliance.hw.indicators_simulated:SimulatedIndicators",
        "gpio": "appliance.hw.indicators:Indicators",
    },
}

KINDS = tuple(BACKENDS)
# A kind configured as "none" (fingerprint, indicators) is a part not fitted: None on Devices.
NOT_FITTED = "none"
# The UPS's signal pins beside a gauge (``hardware.power_signals``) are read by this power back-end.
SIGNALS_BACKEND = "gpio"


@dataclass
class Devices:
    """The opened devices of one kiosk."""

    mrz_reader: MRZReader
    camera: Camera
    power: PowerSource
    fingerprint: FingerprintScanner | None = None
    indicators: Indicators | None = None

    def status(self) -> dict[str, DeviceStatus]:
        """kind -> the status of every fitted device, in start-up order; never raises.

        A device whose own ``status()`` raises is reported as not ok with the error,
        because the status screen is where a technician goes when something is broken.
        """
        report: dict[str, DeviceStatus] = {}
        for kind in KINDS:
            device = getattr(self, kind)
            if device is None:
                continue
            try:
                report[kind] = device.status()
            except Exception as exc:
                log.exception("status() of the %s device raised", kind)
                report[kind] = DeviceStatus(kind=kind, backend=device.backend, ok=False,
                                            detail=f"status failed: {exc}")
        return report

    def close(self) -> None:
        """Close every device, even if one fails; then raises the first failure (DeviceError or other)."""
        close_all([getattr(self, kind) for kind in reversed(KINDS) if getattr(self, kind) is not None])


def backend_class(kind: str, name: str) -> type[Device]:
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
    cls: type[Device] = getattr(module, class_name)
    return cls


def open_devices(hardware: HardwareSection) -> Devices:
    """Open every device named in the ``[hardware]`` config section (a "none" part stays None).

    Raises DeviceError if a back-end name is unknown, cannot be loaded, or its device
    cannot be opened; devices already opened are closed again first.
    """
    # Resolve every name before opening anything, so a typo never leaves a port open.
    classes = {kind: backend_class(kind, getattr(hardware, kind)) for kind in KINDS
               if getattr(hardware, kind) != NOT_FITTED}
    signals = backend_class("power", SIGNALS_BACKEND) if hardware.power_signals == SIGNALS_BACKEND else None
    opened: dict[str, Any] = {}
    try:
        for kind, cls in classes.items():
            opened[kind] = cls.from_config(hardware)
            log.debug("opened %s back-end %r", kind, cls.backend)
        if signals is not None:
            # The gauge is already in ``opened``: if the pins cannot be claimed, it is closed below.
            pins = signals.from_config(hardware)
            assert isinstance(pins, PowerSource)
            opened["power"] = SignalledPowerSource(opened["power"], pins)
    except BaseException:
        # A half-opened set would keep a serial port or the camera busy until exit,
        # and the next start-up attempt would find the device taken.
        try:
            close_all(list(reversed(opened.values())))
        except Exception:
            log.exception("closing devices after a failed open also failed")
        raise
    return Devices(**opened)

