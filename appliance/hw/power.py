"""The power seam: what every battery/UPS/solar back-end reports to the kiosk."""

from __future__ import annotations

import threading
from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from appliance.errors import DeviceError
from appliance.hw.device import Device


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
    ``<name>`` in ``appliance.hw.BACKENDS["power"]``. It must set ``backend`` and ``hint`` and
    override (see ``Device``):

    - ``attached_to(hardware)``: the port, bus or file the self-test names;
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


class LastReadingPowerSource(PowerSource):
    """A power source that reads its hardware on every ``read`` and reports the outcome in ``health``.

    It lets one read at a time reach the hardware, refuses reads once closed, and keeps
    the last reading and the last error, so ``health()`` reports on the last read without
    reading again. A back-end must still provide:

    - ``backend`` and ``from_config(hardware)``, as for any ``PowerSource``; ``from_config``
      may end with ``_first_read()``;
    - ``name``: the device as the "closed" message names it ("INA219", "modbus");
    - ``_measure()``: one reading from the hardware; raises ``DeviceError`` on failure;
    - ``_detail(last)``: the health line while all is well (``last`` is None before any reading).

    It may override ``_setup()`` (before the first read), ``_measure_failed()`` (after a
    failed read, e.g. to reconnect) and ``_release()`` (free the bus or port on ``close``).
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_error: str | None = None
        self._last: PowerReading | None = None
        self._closed = False

    @abstractmethod
    def _measure(self) -> PowerReading:
        """One reading from the hardware; raises DeviceError if it cannot be read."""

    @abstractmethod
    def _detail(self, last: PowerReading | None) -> str:
        """The health line of a working source."""

    def _setup(self) -> None:
        """Prepare the hardware before the first read."""

    def _measure_failed(self) -> None:
        """Called under the lock after ``_measure`` raised, before the error is passed on."""

    def _release(self) -> None:
        """Free the bus or port."""

    def _first_read(self) -> Self:
        """This source once set up and read; if either fails it is closed before the error is raised,
        so a failed open does not hold the bus."""
        try:
            self._setup()
            self.read()
        except BaseException:
            self.close()
            raise
        return self

    def read(self) -> PowerReading:
        with self._lock:
            if self._closed:
                raise DeviceError(f"{self.name} power source is closed")
            try:
                reading = self._measure()
            except DeviceError as exc:
                self._last_error = str(exc)
                self._measure_failed()
                raise
            self._last_error = None
            self._last = reading
            return reading

    def health(self) -> tuple[bool, str]:
        if self._closed:
            return False, "closed"
        if self._last_error:
            return False, self._last_error
        return True, self._detail(self._last)

    def close(self) -> None:
        self._closed = True
        try:
            self._release()
        except Exception:  # a bus that already failed may fail to close; the source is closed regardless
            pass
