"""The power seam: what every battery/UPS/solar back-end reports to the kiosk."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .device import Device


@dataclass(frozen=True)
class PowerReading:
    """The power state at one moment; None where the hardware has no such sensor."""

    battery_percent: float  # 0-100
    charging: bool
    on_mains: bool  # external supply (grid or generator) present
    solar_watts: float | None
    voltage: float | None  # battery voltage
    read_at: datetime  # timezone-aware UTC


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
