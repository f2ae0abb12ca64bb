"""Power from a solar charge controller over Modbus RTU (pymodbus): EPever/Victron-style registers."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from appliance.domain import clock
from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.power import (
    LastReadingPowerSource,
    PowerReading,
    percent_from_voltage,
)
from appliance.hw.serial_port import explain, parse_framing

if TYPE_CHECKING:
    from appliance.config import HardwareSection, PowerModbusSettings

log = logging.getLogger(__name__)

# One Modbus read may return at most 125 registers.
MAX_REGISTERS = 125
EXCEPTION_CODES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "slave device failure", 6: "slave device busy", 11: "gateway target failed to respond"}


class ModbusPowerSource(LastReadingPowerSource):
    """Battery voltage, charging current, PV power and (if the controller has it) state of charge.

    ``client`` is a pymodbus sync client (RTU framing over the configured port). After a
    failed read the connection is closed and opened again at the next read, so a
    controller that was power-cycled or an RS485 adapter that was replugged comes back.
    """

    backend = "modbus"
    hint = N_("check the RS485 adapter, A/B wiring, hardware.power_modbus baudrate, unit and registers")
    name = "modbus"

    def __init__(self, settings: PowerModbusSettings, client: Any) -> None:
        super().__init__()
        self.settings = settings
        self.client = client

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return f"{hardware.power_modbus.port} unit {hardware.power_modbus.unit}"

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> ModbusPowerSource:
        """Open the RS485 port and read the controller once.

        Raises DeviceError if the port is missing or the controller does not answer.
        """
        from pymodbus import FramerType
        from pymodbus.client import ModbusSerialClient

        settings = hardware.power_modbus
        if "://" not in settings.port and not os.path.exists(settings.port):
            raise DeviceError(f"charge controller: {explain(settings.port, FileNotFoundError())}")
        bytesize, parity, stopbits = parse_framing(settings.framing)
        client = ModbusSerialClient(
            settings.port, framer=FramerType.RTU, baudrate=settings.baudrate, bytesize=bytesize,
            parity=parity, stopbits=int(stopbits), timeout=settings.timeout_s, retries=1,
        )
        return cls(settings, client)._first_read()

    def _where(self) -> str:
        return f"unit {self.settings.unit} on {self.settings.port}"

    def _measure(self) -> PowerReading:
        """Raises DeviceError if the controller is silent or answers a Modbus exception."""
        s = self.settings
        wanted = {"battery_voltage": (s.battery_voltage_register, 1)}
        if s.charge_current_register is not None:
            wanted["charge_current"] = (s.charge_current_register, 1)
        if s.pv_power_register is not None:
            wanted["pv_power"] = (s.pv_power_register, 2)
        if s.soc_register is not None:
            wanted["soc"] = (s.soc_register, 1)
        registers = self._fetch(wanted)

        def scaled(name: str) -> float | None:
            return None if name not in registers else round(registers[name] / s.scale, 3)

        # The voltage register is always asked for, and _fetch returns every register asked for.
        volts = round(registers["battery_voltage"] / s.scale, 3)
        amps = scaled("charge_current")
        if "soc" in registers:
            percent = float(registers["soc"])
            if not 0 <= percent <= 100:
                raise DeviceError(f"charge controller {self._where()}: state of charge register holds {percent:g}")
        else:
            percent = percent_from_voltage(volts, s.empty_voltage, s.full_voltage)
        return PowerReading(
            battery_percent=percent,
            charging=None if amps is None else amps > 0.05,
            on_mains=None,  # a solar post has no mains
            solar_watts=scaled("pv_power"),
            voltage=volts,
            read_at=clock.utcnow(),
        )

    def _fetch(self, wanted: dict[str, tuple[int, int]]) -> dict[str, int]:
        start = min(address for address, _ in wanted.values())
        end = max(address + count for address, count in wanted.values())
        if end - start <= MAX_REGISTERS:
            block = self._registers(start, end - start)
            words = {name: block[address - start: address - start + count] for name, (address, count) in wanted.items()}
        else:
            words = {name: self._registers(address, count) for name, (address, count) in wanted.items()}
        # 32-bit values come low word first (EPever).
        return {name: sum(word << (16 * i) for i, word in enumerate(value)) for name, value in words.items()}

    def _registers(self, address: int, count: int) -> list[int]:
        from pymodbus.exceptions import ModbusException

        read = (self.client.read_input_registers if self.settings.register_type == "input"
                else self.client.read_holding_registers)
        try:
            if not self.client.connected and not self.client.connect():
                why = explain(self.settings.port, OSError("port could not be opened (in use by another program?)"))
                raise DeviceError(f"charge controller: cannot open {self.settings.port}: {why}")
            response = read(address, count=count, device_id=self.settings.unit)
        except ModbusException as exc:
            raise DeviceError(
                f"charge controller {self._where()} did not answer ({exc}); check RS485 A/B wiring, "
                f"baud rate {self.settings.baudrate} and unit id"
            ) from None
        if response.isError():
            code = getattr(response, "exception_code", None)
            meaning = EXCEPTION_CODES.get(code, "unknown") if isinstance(code, int) else "unknown"
            raise DeviceError(
                f"charge controller {self._where()} refused registers 0x{address:04X}-0x{address + count - 1:04X}: "
                f"Modbus exception {code} ({meaning}); check the register map"
            )
        if len(response.registers) != count:
            raise DeviceError(f"charge controller {self._where()} returned {len(response.registers)} registers, "
                              f"asked for {count}")
        return list(response.registers)

    def _measure_failed(self) -> None:
        self.client.close()  # reopen at the next read

    def _detail(self, last: PowerReading | None) -> str:
        detail = f"charge controller {self._where()}"
        if last is not None:
            solar = f", solar {last.solar_watts:g} W" if last.solar_watts is not None else ""
            detail = f"battery {last.battery_percent:g}% ({last.voltage:g} V){solar}, {detail}"
        return detail

    def _release(self) -> None:
        self.client.close()
