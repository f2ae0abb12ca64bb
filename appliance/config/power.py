"""The settings of the power back-ends: [hardware.power_sysfs], power_ina219, power_gpio, power_modbus."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator

from appliance.config.common import BCM_PIN_MAX, SerialFraming, StrictModel


class PowerSysfsSettings(StrictModel):
    root: Path = Field(
        default=Path("/sys/class/power_supply"), title="Power supply class directory",
        description="Where the kernel lists power supplies (UPS HAT and PiJuice-style drivers).",
    )
    battery: str = Field(
        default="", title="Battery name",
        description="Supply to read (e.g. BAT0); empty: the first supply of type Battery.",
    )


class PowerINA219Settings(StrictModel):
    bus: int = Field(default=1, ge=0, le=20, title="I2C bus", description="I2C bus number (/dev/i2c-N).")
    address: int = Field(default=0x40, ge=0x03, le=0x77, title="I2C address", description="INA219 address (0x40-0x4F).")
    shunt_ohms: float = Field(default=0.1, gt=0, le=10, title="Shunt resistor", description="Shunt value in ohms.")
    empty_voltage: float = Field(
        default=6.0, gt=0, le=60, title="Empty voltage",
        description="Battery voltage counted as 0% (default: a 2S Li-ion UPS HAT).",
    )
    full_voltage: float = Field(
        default=8.4, gt=0, le=60, title="Full voltage", description="Battery voltage counted as 100%."
    )
    charging_current_a: float = Field(
        default=0.05, ge=0, le=20, title="Charging current threshold",
        description="Current into the battery (amps) above which it counts as charging.",
    )

    @model_validator(mode="after")
    def _voltage_range(self) -> Self:
        if not self.empty_voltage < self.full_voltage:
            raise ValueError(
                f"empty_voltage ({self.empty_voltage:g} V) must be below full_voltage ({self.full_voltage:g} V)"
            )
        return self


class PowerGpioSettings(StrictModel):
    mains_lost_pin: int | None = Field(
        default=None, ge=0, le=BCM_PIN_MAX, title="Mains lost pin",
        description="BCM pin the UPS drives when external power (mains/charger) is lost.",
    )
    low_battery_pin: int | None = Field(
        default=None, ge=0, le=BCM_PIN_MAX, title="Low battery pin",
        description="BCM pin the UPS drives when its battery is low.",
    )
    active_low: bool = Field(
        default=True, title="Active low",
        description="The signals pull the pin low when active (open collector, internal pull-up).",
    )


class PowerModbusSettings(StrictModel):
    port: str = Field(
        default="/dev/ttyUSB1", title="Serial port", description="RS485 adapter of the solar charge controller."
    )
    baudrate: int = Field(default=115200, ge=1200, le=921600, title="Baud rate", description="EPever default 115200.")
    framing: SerialFraming = Field(default="8N1", title="Character framing", description="Data, parity, stop bits.")
    unit: int = Field(default=1, ge=1, le=247, title="Unit id", description="Modbus slave id of the controller.")
    timeout_s: float = Field(default=1.0, gt=0, le=10, title="Timeout", description="Seconds to wait for an answer.")
    register_type: Literal["input", "holding"] = Field(
        default="input", title="Register type", description="Where the readings live (EPever: input registers)."
    )
    battery_voltage_register: int = Field(
        default=0x3104, ge=0, le=0xFFFF, title="Battery voltage register", description="Battery volts x scale."
    )
    charge_current_register: int | None = Field(
        default=0x3105, ge=0, le=0xFFFF, title="Charge current register", description="Charging amps x scale."
    )
    pv_power_register: int | None = Field(
        default=0x3102, ge=0, le=0xFFFE, title="PV power register",
        description="Solar watts x scale, 32 bits over this register and the next (low word first).",
    )
    soc_register: int | None = Field(
        default=0x311A, ge=0, le=0xFFFF, title="State-of-charge register",
        description="Battery percent as an integer; unset: derived from the voltage.",
    )
    scale: float = Field(default=100.0, gt=0, title="Scale", description="Raw value / scale = volts, amps, watts.")
    empty_voltage: float = Field(default=11.8, gt=0, le=60, title="Empty voltage", description="Volts counted as 0%.")
    full_voltage: float = Field(default=12.8, gt=0, le=60, title="Full voltage", description="Volts counted as 100%.")

    @model_validator(mode="after")
    def _voltage_range(self) -> Self:
        if not self.empty_voltage < self.full_voltage:
            raise ValueError(
                f"empty_voltage ({self.empty_voltage:g} V) must be below full_voltage ({self.full_voltage:g} V)"
            )
        return self
