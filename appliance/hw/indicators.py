"""Status LEDs, the buzzer and the call-supervisor button, all through gpiozero.

``Indicators`` is the seam and the "gpio" back-end: it claims the configured pins from
gpiozero's pin factory (lgpio on a Pi, or whatever $GPIOZERO_PIN_FACTORY names). The
"simulated" back-end (``indicators_simulated.py``) drives the same devices on mock pins.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from appliance.errors import DeviceError
from appliance.hw.device import Device
from appliance.hw.gpio import output_device

if TYPE_CHECKING:
    from appliance.config import HardwareSection

log = logging.getLogger(__name__)

STATES = ("off", "ready", "busy", "alert")
# Buzzer patterns: (on seconds, off seconds, beeps). A hit must be unmistakable over a
# queue of travellers; a power warning must not sound like one.
PATTERNS = {
    "watchlist_hit": (0.15, 0.1, 6),
    "power_warning": (0.6, 0.6, 2),
    "power_critical": (1.0, 0.3, 3),
    "selftest": (0.1, 0.1, 1),
}


class Indicators(Device):
    """The kiosk's LEDs (ready/busy/alert), buzzer and supervisor button; a part may be absent.

    ``events`` records every state, pattern and button press, in order.
    """

    kind: ClassVar[str] = "indicators"
    backend: ClassVar[str] = "gpio"
    hint: ClassVar[str] = "check hardware.indicator_pins; on a laptop set GPIOZERO_PIN_FACTORY=mock"

    def __init__(self, pins: dict[str, int | None], pin_factory: Any = None) -> None:
        self.pins = pins
        self.pin_factory = pin_factory
        self.events: list[str] = []
        self.state = "off"
        self.supervisor_calls = 0
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.parts: dict[str, Any] = {}
        kinds = {"ready_led": "LED", "busy_led": "LED", "alert_led": "LED", "buzzer": "Buzzer",
                 "supervisor_button": "Button"}
        try:
            for name, pin in pins.items():
                if pin is not None:
                    self.parts[name] = output_device(kinds[name], pin, what=name.replace("_", " "),
                                                     pin_factory=pin_factory)
        except BaseException:
            self.close()
            raise
        button = self.parts.get("supervisor_button")
        if button is not None:
            button.when_pressed = self._pressed

    @classmethod
    def attached_to(cls, hardware: HardwareSection) -> str:
        pins = hardware.indicator_pins.model_dump()
        return ", ".join(f"{name} GPIO{pin}" for name, pin in pins.items() if pin is not None) or "no pins"

    @classmethod
    def from_config(cls, hardware: HardwareSection) -> Indicators:
        """Claim the pins in ``hardware.indicator_pins``; raises DeviceError if one cannot be claimed."""
        indicators = cls(hardware.indicator_pins.model_dump())
        indicators.set_state("ready")
        return indicators

    def set_state(self, state: str) -> None:
        """Light the LED of ``state`` (ready, busy, alert; off for none); alert blinks."""
        if state not in STATES:
            raise ValueError(f"indicator state {state!r} is not one of {', '.join(STATES)}")
        with self._lock:
            if self._closed:
                raise DeviceError("indicators are closed")
            self.state = state
            self.events.append(f"state {state}")
            for name in ("ready_led", "busy_led", "alert_led"):
                led = self.parts.get(name)
                if led is None:
                    continue
                if name == f"{state}_led":
                    if state == "alert":
                        led.blink(on_time=0.25, off_time=0.25)
                    else:
                        led.on()
                else:
                    led.off()

    def pattern(self, name: str, background: bool = True) -> None:
        """Sound buzzer pattern ``name`` (watchlist_hit, power_warning, power_critical).

        ``background=False`` returns only when the pattern has finished (tests).
        """
        if name not in PATTERNS:
            raise ValueError(f"buzzer pattern {name!r} is not one of {', '.join(PATTERNS)}")
        on_time, off_time, beeps = PATTERNS[name]
        with self._lock:
            if self._closed:
                raise DeviceError("indicators are closed")
            self.events.append(f"pattern {name}")
            buzzer = self.parts.get("buzzer")
        if buzzer is not None:
            buzzer.beep(on_time=on_time, off_time=off_time, n=beeps, background=background)

    def watchlist_hit(self, background: bool = True) -> None:
        """Alert LED blinking and the hit pattern: the officer must refer the traveller."""
        self.set_state("alert")
        self.pattern("watchlist_hit", background)

    def on_supervisor_call(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on gpiozero's thread) each time the supervisor button is pressed."""
        self._callbacks.append(callback)

    def _pressed(self) -> None:
        self.supervisor_calls += 1
        self.events.append("button supervisor")
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:
                # gpiozero's thread would swallow it silently; say it loudly instead.
                log.exception("supervisor button callback failed")

    def health(self) -> tuple[bool, str]:
        if self._closed:
            return False, "closed"
        if not self.parts:
            return True, "no indicator pins configured"
        fitted = ", ".join(f"{name} GPIO{self.pins[name]}" for name in self.parts)
        return True, f"{self.state}; {fitted}"

    def close(self) -> None:
        self._closed = True
        for part in self.parts.values():
            try:
                part.close()
            except Exception:
                log.exception("closing %s failed", part)
