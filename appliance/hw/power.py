"""The power seam: what every battery/UPS/solar back-end reports to the kiosk."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .device import Device


@dataclass(frozen=True)
class PowerReading:
    """The power state at one moment; None where the hardware has no such sensor.

    A UPS that only signals on pins (the gpio back-end) knows no percentage: it reports
    ``battery_percent=None`` and sets ``low_battery`` from its pin, and the power policy
    decides from the flags.
    """

    battery_percent: float | None  # 0-100
    charging: bool | None
    on_mains: bool | None  # external supply (grid, generator, charger) present
    solar_watts: float | None
    voltage: float | None  # battery voltage
    read_at: datetime  # timezone-aware UTC
    low_battery: bool = False  # the hardware itself says the battery is nearly empty


def percent_from_voltage(voltage: float, empty: float, full: float) -> float:
    """Battery percent from its voltage, linear between ``empty`` and ``full`` and clamped to 0-100.

    Crude (a battery's curve is not a line), but gauges without a state-of-charge
    register have nothing better, and the policy thresholds are set with that in mind.
    """
    return round(max(0.0, min(100.0, (voltage - empty) / (full - empty) * 100.0)), 1)


class PowerSource(Device):
    """The kiosk's battery, UPS HAT or solar charge controller.

    A back-end is one module ``appliance/hw/power_<name>.py`` registered under
    ``<name>`` in ``appliance.hw.BACKENDS["power"]``. It must override:

    - ``from_config(hardware)``: build the source from the ``[hardware]`` config section;
      raise ``DeviceError`` if the device cannot be opened;
    - ``read()``: read the current state.

    It may override ``health()`` (default: always ok) to report a fault, and ``close()``
    to release the bus. ``status()`` and ``health()`` must not raise.
    """

    kind: ClassVar[str] = "power"

    @abstractmethod
    def read(self) -> PowerReading:
        """The power state now; raises DeviceError if the sensor cannot be read or was closed."""
