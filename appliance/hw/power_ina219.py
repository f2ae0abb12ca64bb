"""Power from an INA219-style I2C current/voltage gauge (smbus2), as on Waveshare-type UPS HATs."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from appliance.domain import clock
from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.power import (
    LastReadingPowerSource,
    PowerReading,
    percent_from_voltage,
)

if TYPE_CHECKING:
    from appliance.config import HardwareSection, PowerINA219Settings

REG_CONFIG = 0x00
REG_SHUNT = 0x01  # signed, 10 uV per bit
REG_BUS = 0x02  # bits 15-3: 4 mV per bit; bit 1 conversion ready, bit 0 math overflow
# 32 V range, /8 gain (320 mV shunt), 12-bit ADCs, continuous shunt and bus: the power-on
# default, written anyway in case another program changed it.
CONFIG_32V_320MV = 0x399F


def swap16(word: int) -> int:
    """SMBus words are little-endian on the wire; the INA219 sends its registers big-endian."""
    return ((word & 0xFF) << 8) | (word >> 8)


class INA219PowerSource(LastReadingPowerSource):
    """Battery voltage and current from the gauge; percent from the voltage curve in config.

    Positive current flows into the battery (charging); wire the shunt that way round.
    ``bus`` is anything with smbus2's ``read_word_data``/``write_word_data``/``close``.
    """

    backend = "ina219"
    hint = N_("enable I2C (raspi-config); `i2cdetect -y BUS` must show hardware.power_ina219.address")
    name = "INA219"

    def __init__(self, settings: PowerINA219Settings, bus: Any) -> None:
        super().__init__()
        self.settings = settings
        self.bus = bus

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return f"i2c-{hardware.power_ina219.bus} 0x{hardware.power_ina219.address:02X}"

    @classmethod
    def from_config(cls, hardware: HardwareSection, bus: Any = None) -> INA219PowerSource:
        """Open I2C bus ``power_ina219.bus`` and configure the gauge.

        Raises DeviceError if the bus does not exist or nothing answers at the address.
        """
        settings = hardware.power_ina219
        if bus is None:
            from smbus2 import SMBus

            try:
                bus = SMBus(settings.bus)
            except (OSError, FileNotFoundError) as exc:
                raise DeviceError(
                    f"INA219: no I2C bus /dev/i2c-{settings.bus} ({exc}); enable I2C "
                    "(raspi-config > Interface Options > I2C) and check the kiosk user is in group 'i2c'"
                ) from None
        return cls(settings, bus)._first_read()

    def _setup(self) -> None:
        self._write(REG_CONFIG, CONFIG_32V_320MV)

    def _measure(self) -> PowerReading:
        """Raises DeviceError if the gauge does not answer or reports an overflow."""
        bus_raw = self._read(REG_BUS)
        if bus_raw & 0x1:
            raise DeviceError("INA219: math overflow (current beyond the shunt range; check shunt_ohms)")
        volts = (bus_raw >> 3) * 0.004
        shunt_raw = self._read(REG_SHUNT)
        if shunt_raw & 0x8000:
            shunt_raw -= 0x10000
        amps = shunt_raw * 10e-6 / self.settings.shunt_ohms
        return PowerReading(
            battery_percent=percent_from_voltage(volts, self.settings.empty_voltage, self.settings.full_voltage),
            charging=amps > self.settings.charging_current_a,
            on_mains=None,
            solar_watts=None,
            voltage=round(volts, 3),
            read_at=clock.utcnow(),
        )

    def _read(self, register: int) -> int:
        try:
            return swap16(self.bus.read_word_data(self.settings.address, register))
        except OSError as exc:
            raise DeviceError(self._explain(exc)) from None

    def _write(self, register: int, value: int) -> None:
        try:
            self.bus.write_word_data(self.settings.address, register, swap16(value))
        except OSError as exc:
            raise DeviceError(self._explain(exc)) from None

    def _explain(self, exc: OSError) -> str:
        where = f"0x{self.settings.address:02X} on I2C bus {self.settings.bus}"
        if exc.errno in (errno.EREMOTEIO, errno.ENXIO, errno.EIO):
            return f"INA219: nothing answers at {where} (check wiring; `i2cdetect -y {self.settings.bus}`)"
        return f"INA219 at {where}: {exc}"

    def _detail(self, last: PowerReading | None) -> str:
        detail = f"INA219 at 0x{self.settings.address:02X} on I2C bus {self.settings.bus}"
        if last is not None:
            detail = f"battery {last.battery_percent:g}% ({last.voltage:g} V), " + detail
        return detail

    def _release(self) -> None:
        self.bus.close()
