"""The simulated indicators: the real gpiozero LEDs, buzzer and button on a private MockFactory.

The demo and the tests run the real code, and a test can read the pins
(``pin("buzzer").states``) or press the button (``press_supervisor_button()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from gpiozero.pins.mock import MockFactory

from appliance.hw.indicators import Indicators

if TYPE_CHECKING:
    from appliance.config import HardwareSection

# Pins used for parts not given in indicator_pins.
SIMULATED_PINS = {"ready_led": 17, "busy_led": 27, "alert_led": 22, "buzzer": 18, "supervisor_button": 23}


class SimulatedIndicators(Indicators):
    """The same devices on a private gpiozero MockFactory (no GPIO needed, nothing global changed)."""

    backend: ClassVar[str] = "simulated"
    hint: ClassVar[str] = "check gpiozero is installed"

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        return "mock pins"

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> SimulatedIndicators:
        configured = hardware.indicator_pins.model_dump()
        pins = {name: configured[name] if configured[name] is not None else pin
                for name, pin in SIMULATED_PINS.items()}
        indicators = cls(pins, pin_factory=MockFactory())
        indicators.set_state("ready")
        return indicators

    def pin(self, name: str) -> Any:
        """The MockPin behind part ``name``: ``.state``, ``.states``, ``.assert_states([...])``."""
        return self.parts[name].pin

    def press_supervisor_button(self) -> None:
        """Press and release the button (the Button has its pull-up: pressed is low)."""
        pin = self.pin("supervisor_button")
        pin.drive_low()
        pin.drive_high()
