"""The [hardware.indicator_pins] settings: BCM pins of the LEDs, buzzer and button."""

from __future__ import annotations

from pydantic import Field

from appliance.config.common import BCM_PIN_MAX, StrictModel


class IndicatorPins(StrictModel):
    ready_led: int | None = Field(
        default=None, ge=0, le=BCM_PIN_MAX, title="Ready LED pin", description="Green: ready for a traveller."
    )
    busy_led: int | None = Field(
        default=None, ge=0, le=BCM_PIN_MAX, title="Busy LED pin", description="Amber: reading or capturing."
    )
    alert_led: int | None = Field(
        default=None, ge=0, le=BCM_PIN_MAX, title="Alert LED pin", description="Red: watchlist hit, power alarm."
    )
    buzzer: int | None = Field(
        default=None, ge=0, le=BCM_PIN_MAX, title="Buzzer pin", description="Active buzzer."
    )
    supervisor_button: int | None = Field(
        default=None, ge=0, le=BCM_PIN_MAX, title="Call-supervisor button pin",
        description="Push button to call a supervisor.",
    )
