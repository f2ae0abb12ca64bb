"""The [hardware] section: which back-end each device uses, and each back-end's settings."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from appliance.config.camera import CameraSettings
from appliance.config.common import StrictModel
from appliance.config.fingerprint import FingerprintR30xSettings
from appliance.config.indicators import IndicatorPins
from appliance.config.mrz_reader import MRZSerialSettings
from appliance.config.power import (
    PowerGpioSettings,
    PowerINA219Settings,
    PowerModbusSettings,
    PowerSysfsSettings,
)
from appliance.config.power_policy import PowerPolicySettings
from appliance.config.simulated import SimulatedDevices


class HardwareSection(StrictModel):
    mrz_reader: Literal["simulated", "serial"] = Field(
        default="simulated", title="MRZ reader back-end", description="Passport reader back-end."
    )
    camera: Literal["simulated", "v4l2", "picamera2"] = Field(
        default="simulated", title="Camera back-end", description="Camera back-end."
    )
    power: Literal["simulated", "sysfs", "ina219", "gpio", "modbus"] = Field(
        default="simulated", title="Power back-end", description="Battery/UPS/solar back-end."
    )
    power_signals: Literal["none", "gpio"] = Field(
        default="none", title="UPS signal pins beside the power back-end",
        description="'gpio' also reads the pins of [hardware.power_gpio] (mains lost, battery low) next to a "
                    "gauge or charge controller that cannot see them; the pins' flags win.",
    )
    fingerprint: Literal["none", "simulated", "r30x"] = Field(
        default="simulated", title="Fingerprint back-end",
        description="Fingerprint module back-end; 'simulated' runs an R30x simulator on an in-process pty.",
    )
    indicators: Literal["none", "simulated", "gpio"] = Field(
        default="simulated", title="Indicators back-end",
        description="LEDs, buzzer and button; 'simulated' drives them on gpiozero's mock pins.",
    )
    mrz_serial: MRZSerialSettings = Field(
        default_factory=MRZSerialSettings, title="Serial MRZ reader", description="Settings of the serial back-end."
    )
    fingerprint_r30x: FingerprintR30xSettings = Field(
        default_factory=FingerprintR30xSettings, title="R30x fingerprint module",
        description="Settings of the r30x back-end.",
    )
    camera_settings: CameraSettings = Field(
        default_factory=CameraSettings, title="Camera settings", description="Still size, settling, device."
    )
    power_sysfs: PowerSysfsSettings = Field(
        default_factory=PowerSysfsSettings, title="sysfs power", description="Settings of the sysfs back-end."
    )
    power_ina219: PowerINA219Settings = Field(
        default_factory=PowerINA219Settings, title="INA219 gauge", description="Settings of the ina219 back-end."
    )
    power_gpio: PowerGpioSettings = Field(
        default_factory=PowerGpioSettings, title="UPS signal pins", description="Settings of the gpio back-end."
    )
    power_modbus: PowerModbusSettings = Field(
        default_factory=PowerModbusSettings, title="Modbus charge controller",
        description="Settings of the modbus back-end (EPever-style register map by default).",
    )
    indicator_pins: IndicatorPins = Field(
        default_factory=IndicatorPins, title="Indicator pins",
        description="BCM pins of the LEDs, buzzer and button; an unset pin means not fitted.",
    )
    power_policy: PowerPolicySettings = Field(
        default_factory=PowerPolicySettings, title="Power policy", description="Thresholds and shutdown."
    )
    simulated: SimulatedDevices = Field(
        default_factory=SimulatedDevices, title="Simulators", description="Settings of the simulated back-ends."
    )

    @model_validator(mode="after")
    def _signals_beside_another_backend(self) -> Self:
        if self.power_signals == "gpio" and self.power == "gpio":
            raise ValueError("power_signals = 'gpio' adds the UPS pins to another power back-end; with power = 'gpio' "
                             "the pins are already read: set power_signals = 'none'")
        if self.power_signals == "gpio" and self.power_gpio.mains_lost_pin is None \
                and self.power_gpio.low_battery_pin is None:
            raise ValueError("power_signals = 'gpio' needs power_gpio.mains_lost_pin or power_gpio.low_battery_pin")
        return self
