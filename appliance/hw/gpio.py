"""Claiming GPIO pins through gpiozero with errors a technician can act on."""

from __future__ import annotations

import os
from typing import Any

from appliance.errors import DeviceError


def _explain(pin: int, what: str, exc: BaseException) -> DeviceError:
    hint = ""
    if "PinFactory" in type(exc).__name__ or "pin factory" in str(exc).lower() or isinstance(exc, ImportError):
        hint = ("; no GPIO here: on a laptop set GPIOZERO_PIN_FACTORY=mock, on a Pi install lgpio "
                f"(GPIOZERO_PIN_FACTORY is {os.environ.get('GPIOZERO_PIN_FACTORY', 'unset')})")
    elif "in use" in str(exc).lower():
        hint = "; another device or program holds this pin (two functions on one pin in the config?)"
    return DeviceError(f"{what} on GPIO{pin}: {type(exc).__name__}: {exc}{hint}")


def input_pin(pin: int, *, pull_up: bool, what: str, pin_factory: Any = None) -> Any:
    """A gpiozero DigitalInputDevice; raises DeviceError naming the pin and a hint."""
    from gpiozero import DigitalInputDevice

    try:
        return DigitalInputDevice(pin, pull_up=pull_up, pin_factory=pin_factory)
    except Exception as exc:
        raise _explain(pin, what, exc) from None


def output_device(kind: str, pin: int, *, what: str, pin_factory: Any = None) -> Any:
    """A gpiozero LED, Buzzer or Button by name; raises DeviceError naming the pin and a hint."""
    import gpiozero

    try:
        return getattr(gpiozero, kind)(pin, pin_factory=pin_factory)
    except Exception as exc:
        raise _explain(pin, what, exc) from None
