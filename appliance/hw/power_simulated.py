"""The simulated power source: a scriptable battery, optionally driven by a file."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.domain import clock
from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.power import PowerReading, PowerSource

if TYPE_CHECKING:
    from appliance.config import HardwareSection

# Distinguishes "leave unchanged" from None, which for solar_watts and voltage means
# "no such sensor".
_UNCHANGED: Any = object()


class SimulatedPowerSource(PowerSource):
    """A battery whose state a test sets with ``set``, or a technician writes to a file.

    When ``battery_file`` is given, every ``read`` takes the level from that file (a
    number 0-100), so a discharge can be scripted from a shell (``echo 12 > FILE``);
    the file wins over ``set(percent=...)``. Every reading returned is kept in
    ``readings``.
    """

    backend = "simulated"
    hint = N_("check hardware.simulated.battery_file holds a number 0-100")

    def __init__(
        self,
        battery_percent: float = 100.0,
        *,
        charging: bool = False,
        on_mains: bool = True,
        solar_watts: float | None = None,
        voltage: float | None = None,
        battery_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.battery_percent = _checked_percent(battery_percent)
        self.charging = charging
        self.on_mains = on_mains
        self.solar_watts = _checked_watts(solar_watts)
        self.voltage = voltage
        self.battery_file = Path(battery_file) if battery_file is not None else None
        self.readings: list[PowerReading] = []
        self._last_error: str | None = None
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return str(hardware.simulated.battery_file or "-")

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> SimulatedPowerSource:
        """A battery at ``hardware.simulated.battery_percent``, read from ``battery_file`` if set.

        Never raises: a missing or bad battery file is reported by ``read`` and ``status``,
        as a real gauge that stops answering would be.
        """
        simulated = hardware.simulated
        return cls(simulated.battery_percent, battery_file=simulated.battery_file)

    def set(
        self,
        *,
        percent: float | None = None,
        charging: bool | None = None,
        on_mains: bool | None = None,
        solar_watts: float | None = _UNCHANGED,
        voltage: float | None = _UNCHANGED,
    ) -> None:
        """Change the simulated state; arguments left out keep their value.

        ``solar_watts=None`` / ``voltage=None`` mean the sensor is absent. Raises
        ValueError if ``percent`` is not within 0-100 or ``solar_watts`` is negative.
        """
        with self._lock:
            if percent is not None:
                self.battery_percent = _checked_percent(percent)
            if charging is not None:
                self.charging = charging
            if on_mains is not None:
                self.on_mains = on_mains
            if solar_watts is not _UNCHANGED:
                self.solar_watts = _checked_watts(solar_watts)
            if voltage is not _UNCHANGED:
                self.voltage = voltage

    def read(self) -> PowerReading:
        """The simulated state now, with the level from ``battery_file`` when one is set.

        Raises DeviceError if the source is closed, or if the battery file cannot be read
        or does not hold a number 0-100 (the message names the file and its content).
        """
        with self._lock:
            if self._closed:
                raise DeviceError("simulated power source is closed")
            if self.battery_file is not None:
                try:
                    self.battery_percent = self._level_from_file(self.battery_file)
                except DeviceError as exc:
                    self._last_error = str(exc)
                    raise
            reading = PowerReading(
                battery_percent=self.battery_percent,
                charging=self.charging,
                on_mains=self.on_mains,
                solar_watts=self.solar_watts,
                voltage=self.voltage,
                read_at=clock.utcnow(),
            )
            self._last_error = None
            self.readings.append(reading)
            return reading

    def health(self) -> tuple[bool, str]:
        with self._lock:
            if self._closed:
                return False, "closed"
            if self._last_error is not None:
                return False, self._last_error
            supply = "on mains" if self.on_mains else "on battery"
            charging = ", charging" if self.charging else ""
            solar = f", solar {self.solar_watts:g} W" if self.solar_watts is not None else ""
            source = f" (level from {self.battery_file})" if self.battery_file else ""
            return True, f"battery {self.battery_percent:g}%{source}, {supply}{charging}{solar}"

    def close(self) -> None:
        with self._lock:
            self._closed = True

    @staticmethod
    def _level_from_file(path: Path) -> float:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise DeviceError(f"simulated battery: cannot read battery_file {path}: {exc}") from None
        try:
            level = float(text)
        except ValueError:
            level = math.nan
        if not 0 <= level <= 100:  # also rejects NaN
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise DeviceError(
                f"simulated battery: battery_file {path} must hold a number 0-100, found {shown!r}"
            )
        return level


def _checked_percent(value: float) -> float:
    if not 0 <= value <= 100:
        raise ValueError(f"battery percent must be within 0-100, got {value}")
    return float(value)


def _checked_watts(value: float | None) -> float | None:
    if value is not None and not value >= 0:
        raise ValueError(f"solar_watts must be >= 0 or None, got {value}")
    return value
