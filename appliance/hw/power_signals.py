"""A gauge or charge controller read together with the UPS's signal pins.

Many UPS boards report their charge over I2C (or a driver's sysfs files) but signal a lost
mains supply and a nearly empty battery only on two GPIO lines. With
``hardware.power_signals = "gpio"`` the kiosk reads both: the configured back-end gives
the percentage, voltage and solar power, the pins say whether the mains is there and
whether the battery is low, and the pins win where both speak, because they come straight
from the UPS's own supervisor.

The low-battery pin is the last line of defence before the UPS cuts the power, so a gauge
that cannot be read does not hide it: the reading then carries the pins' flags alone
(no percentage), and ``health()`` reports the gauge's failure.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from appliance.domain.reasons import N_
from appliance.errors import DeviceError
from appliance.hw.device import close_all
from appliance.hw.power import PowerReading, PowerSource

if TYPE_CHECKING:
    from appliance.config import HardwareSection

log = logging.getLogger(__name__)


class SignalledPowerSource(PowerSource):
    """``gauge`` (any power back-end) with the flags of ``pins`` (the gpio back-end) laid over its readings.

    Not a back-end of its own: ``open_devices`` builds it around an opened gauge, so it is in
    no registry and the self-test checks the gauge and the pins by their own back-ends.
    """

    hint = N_("check the gauge's settings and hardware.power_gpio pins and the UPS signal wiring")

    def __init__(self, gauge: PowerSource, pins: PowerSource) -> None:
        self.gauge = gauge
        self.pins = pins
        # The one back-end named per instance ("ina219+gpio"): what the status screen shows.
        self.backend = f"{gauge.backend}+{pins.backend}"  # type: ignore[misc]

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> SignalledPowerSource:  # pragma: no cover
        raise DeviceError("the signalled power source is built by open_devices, not from the config")

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:  # pragma: no cover - never in the self-test
        return "gauge and UPS pins"

    def read(self) -> PowerReading:
        """The gauge's reading with the pins' mains and low-battery flags.

        Raises DeviceError only when the pins cannot be read; a failing gauge leaves the
        pins' own reading (no percentage).
        """
        signals = self.pins.read()
        try:
            reading = self.gauge.read()
        except DeviceError as exc:
            log.warning("power gauge unreadable, using the UPS pins alone: %s", exc)
            return signals
        on_mains = reading.on_mains if signals.on_mains is None else signals.on_mains
        return dataclasses.replace(
            reading, on_mains=on_mains, low_battery=reading.low_battery or signals.low_battery,
            # A battery cannot charge while the UPS says its supply is gone.
            charging=False if on_mains is False else reading.charging,
        )

    def health(self) -> tuple[bool, str]:
        gauge_ok, gauge_detail = self.gauge.health()
        pins_ok, pins_detail = self.pins.health()
        return gauge_ok and pins_ok, f"{self.gauge.backend}: {gauge_detail}; pins: {pins_detail}"

    def close(self) -> None:
        """Close the pins and the gauge, even if one fails; then raise the first failure."""
        close_all([self.pins, self.gauge])
