"""Power state from a UPS's signal pins through gpiozero: "mains/charger lost" and "battery low"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from appliance.domain import clock
from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.gpio import input_pin
from appliance.hw.power import PowerReading, PowerSource

if TYPE_CHECKING:
    from appliance.config import HardwareSection


class GpioPowerSource(PowerSource):
    """No percentage, only two flags; the power policy acts on them (lost mains → warn, low → critical)."""

    backend = "gpio"
    hint = N_("check hardware.power_gpio pins and the UPS signal wiring")

    def __init__(self, mains_lost: Any, low_battery: Any, pins: dict[str, int | None]) -> None:
        self.mains_lost = mains_lost
        self.low_battery = low_battery
        self.pins = pins
        self._closed = False

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        pins = (hardware.power_gpio.mains_lost_pin, hardware.power_gpio.low_battery_pin)
        return ", ".join(f"GPIO{pin}" for pin in pins if pin is not None) or "no pins"

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> GpioPowerSource:
        """Claim the configured pins through gpiozero's pin factory ($GPIOZERO_PIN_FACTORY).

        Raises DeviceError if no pin is configured or a pin cannot be claimed.
        """
        settings = hardware.power_gpio
        pins = {"mains_lost_pin": settings.mains_lost_pin, "low_battery_pin": settings.low_battery_pin}
        if all(pin is None for pin in pins.values()):
            raise DeviceError("power back-end 'gpio' needs hardware.power_gpio.mains_lost_pin or low_battery_pin")
        opened = []
        try:
            for pin in pins.values():
                opened.append(None if pin is None else input_pin(pin, pull_up=settings.active_low, what="UPS signal"))
        except BaseException:
            for device in opened:
                if device is not None:
                    device.close()
            raise
        return cls(opened[0], opened[1], pins)

    def read(self) -> PowerReading:
        if self._closed:
            raise DeviceError("gpio power source is closed")
        try:
            on_mains = None if self.mains_lost is None else not self.mains_lost.is_active
            low = False if self.low_battery is None else bool(self.low_battery.is_active)
        except Exception as exc:  # gpiozero raises its own errors for a closed or lost pin
            raise DeviceError(f"gpio power: cannot read UPS pins: {exc}") from None
        return PowerReading(
            battery_percent=None, charging=None, on_mains=on_mains, solar_watts=None, voltage=None,
            read_at=clock.utcnow(), low_battery=low,
        )

    def health(self) -> tuple[bool, str]:
        if self._closed:
            return False, "closed"
        try:
            reading = self.read()
        except DeviceError as exc:
            return False, str(exc)
        pins = ", ".join(f"{name.removesuffix('_pin')} GPIO{pin}" for name, pin in self.pins.items() if pin is not None)
        supply = {None: "mains unknown", True: "on mains", False: "MAINS LOST"}[reading.on_mains]
        return True, f"{supply}{', BATTERY LOW' if reading.low_battery else ''} ({pins})"

    def close(self) -> None:
        self._closed = True
        for device in (self.mains_lost, self.low_battery):
            if device is not None:
                device.close()
